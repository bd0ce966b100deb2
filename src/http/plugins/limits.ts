import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { REQUEST_LIMITS } from '../../api/schemas/limits.js'
import { InvalidRequestError } from '../../errors.js'

/**
 * JSON bodies nested deeper than REQUEST_LIMITS.jsonDepth are refused while parsing: everything downstream
 * that walks a value (JSON.parse itself, schema validation, JSON Schema → grammar, templates, cloning)
 * recurses, and a body of a million brackets must be a quick 400, not seconds of work or a stack overflow.
 */
export const limitsPlugin = fp(
  async (app: FastifyInstance) => {
    const parseJson = app.getDefaultJsonParser('error', 'error')
    app.removeContentTypeParser('application/json')
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      const text = String(body)
      if (nestingExceeds(text, REQUEST_LIMITS.jsonDepth)) {
        done(new InvalidRequestError(`The request body is nested more than ${REQUEST_LIMITS.jsonDepth} levels deep.`, null, 'nesting_too_deep'))
        return
      }
      parseJson(request, text, done)
    })
  },
  { name: 'limits' },
)

/**
 * Whether JSON text opens more than `limit` arrays/objects at once: a linear scan that jumps over each string
 * with a native search for its closing quote, so a body that is one long string (the usual large one) costs
 * little more than a memchr.
 */
export function nestingExceeds(text: string, limit: number): boolean {
  let depth = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x22) i = stringEnd(text, i)
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  return false
}

/** Index of the quote closing the string opened at `open` (text.length when it is never closed). */
function stringEnd(text: string, open: number): number {
  for (let at = text.indexOf('"', open + 1); at >= 0; at = text.indexOf('"', at + 1)) {
    // Escaped when an odd number of backslashes precede it. Each backslash run is counted for one quote only.
    let backslashes = 0
    while (text.charCodeAt(at - 1 - backslashes) === 0x5c) backslashes++
    if (backslashes % 2 === 0) return at
  }
  return text.length
}

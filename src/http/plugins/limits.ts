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

/** Whether JSON text opens more than `limit` arrays/objects at once (a linear scan; strings skipped). */
export function nestingExceeds(text: string, limit: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  return false
}

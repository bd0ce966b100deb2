import { describe, expect, it } from 'vitest'
import { integerRange, jsonSchemaGrammar, UnsupportedSchemaError } from '../src/constraints/json-schema-grammar.js'

/** The integer-range GBNF uses only literals, classes, {n} and groups, so it reads directly as a regex. */
function asRegExp(gbnf: string): RegExp {
  const source = gbnf
    .replace(/"([^"]*)"/g, (_, text: string) => text.replace(/[-]/g, '\\-'))
    .replace(/\(/g, '(?:')
    .replace(/\s+/g, '')
  return new RegExp(`^(?:${source})$`)
}

describe('integerRange', () => {
  it.each([
    [0, 0],
    [0, 9],
    [18, 99],
    [5, 123],
    [100, 2500],
    [-40, 7],
    [-999, -10],
    [-5, 0],
    [7, 7],
    [99, 1001],
  ])('matches exactly the integers in [%i, %i]', (lo, hi) => {
    const re = asRegExp(integerRange(lo, hi))
    for (let n = lo - 150; n <= hi + 150; n++) expect(re.test(String(n)), String(n)).toBe(n >= lo && n <= hi)
    // No leading zeros, no "-0".
    expect(re.test('007')).toBe(false)
    expect(re.test('-0')).toBe(false)
  })
})

describe('jsonSchemaGrammar', () => {
  it('accepts annotations and refuses keywords it cannot enforce, naming them and their path', () => {
    expect(() => jsonSchemaGrammar({ type: 'string', title: 'T', description: 'd', examples: ['x'] })).not.toThrow()
    const cases: Array<[object, string, string]> = [
      [{ type: 'string', pattern: 'a' }, 'pattern', '/pattern'],
      [{ type: 'object', properties: { a: { type: 'array', contains: {} } } }, 'contains', '/properties/a/contains'],
      [{ not: { type: 'string' } }, 'not', '/not'],
      [{ if: {}, then: {} }, 'if', '/if'],
      [{ type: 'object', required: ['missing'] }, 'required', '/required'],
      [{ type: 'integer', minimum: 10, maximum: 5 }, 'maximum', ''],
    ]
    for (const [schema, keyword, path] of cases) {
      try {
        jsonSchemaGrammar(schema)
        expect.unreachable(`${keyword} was accepted`)
      } catch (error) {
        expect(error).toBeInstanceOf(UnsupportedSchemaError)
        expect((error as UnsupportedSchemaError).keyword).toBe(keyword)
        expect((error as UnsupportedSchemaError).path).toBe(path)
      }
    }
  })

  it('turns recursive $defs into recursive rules instead of looping', () => {
    const gbnf = jsonSchemaGrammar({
      $ref: '#/$defs/node',
      $defs: { node: { type: 'object', properties: { next: { anyOf: [{ $ref: '#/$defs/node' }, { type: 'null' }] } }, required: ['next'] } },
    })
    expect(gbnf.match(/^def-\d+ ::=/gm)).toHaveLength(1)
  })
})

import { describe, expect, it } from 'vitest'
import { jsonSchemaGrammar } from '../src/constraints/json-schema-grammar.js'
import { patternGrammar, PatternError } from '../src/constraints/regex-grammar.js'
import { schemaConstraint } from '../src/constraints/schema-constraint.js'
import { UnsupportedSchemaError } from '../src/constraints/schema-error.js'
import { InvalidRequestError } from '../src/errors.js'

const refusal = (schema: unknown): UnsupportedSchemaError => {
  try {
    jsonSchemaGrammar(schema)
  } catch (error) {
    expect(error).toBeInstanceOf(UnsupportedSchemaError)
    return error as UnsupportedSchemaError
  }
  return expect.unreachable(`${JSON.stringify(schema)} was accepted`)
}

describe('jsonSchemaGrammar', () => {
  it('accepts annotations of every draft and vendor keywords', () => {
    const schema = {
      $schema: 'https://json-schema.org/draft/2020-12/schema', $id: 'urn:x', $comment: 'c', title: 'T', description: 'd', default: 'x',
      examples: ['x'], deprecated: false, readOnly: true, writeOnly: false, nullable: true, 'x-vendor': 1, type: 'string',
    }
    expect(() => jsonSchemaGrammar(schema)).not.toThrow()
  })

  it('refuses keywords it cannot enforce, naming them and their JSON pointer', () => {
    const cases: Array<[object, string, string]> = [
      [{ type: 'string', pattern: '^(a)\\1$' }, 'pattern', '/pattern'],
      [{ type: 'string', pattern: '^(?=a).$' }, 'pattern', '/pattern'],
      [{ type: 'object', properties: { a: { type: 'array', contains: {} } } }, 'contains', '/properties/a/contains'],
      [{ not: { type: 'string' } }, 'not', '/not'],
      [{ if: {}, then: {} }, 'if', '/if'],
      [{ type: 'array', items: { type: 'string' }, uniqueItems: true }, 'uniqueItems', '/uniqueItems'],
      [{ type: 'number', multipleOf: 0.5 }, 'multipleOf', '/multipleOf'],
      [{ oneOf: [{ type: 'number' }, { type: 'integer' }] }, 'oneOf', '/oneOf'],
      [{ type: 'array', items: [{ type: 'string' }, { type: 'integer', multipleOf: 2.5 }] }, 'multipleOf', '/items/1/multipleOf'],
    ]
    for (const [schema, keyword, pointer] of cases) {
      const error = refusal(schema)
      expect([error.keyword, error.pointer, error.relaxable]).toEqual([keyword, pointer, true])
    }
  })

  it('calls invalid schemas invalid, whatever strict says', () => {
    for (const [schema, keyword] of [
      [{ type: 'kaboom' }, 'type'], [{ type: 123 }, 'type'], [{ type: 'integer', minimum: 10, maximum: 5 }, 'maximum'],
      [{ type: 'string', minLength: -1 }, 'minLength'], [{ type: 'string', pattern: '^(a$' }, 'pattern'], [{ $ref: '#/$defs/missing' }, '$ref'],
      [{ type: 'string', enum: [1, 2] }, 'enum'],
    ] as Array<[object, string]>) {
      try {
        jsonSchemaGrammar(schema, { strict: false })
        expect.unreachable(JSON.stringify(schema))
      } catch (error) {
        expect((error as UnsupportedSchemaError).keyword).toBe(keyword)
        expect((error as UnsupportedSchemaError).relaxable).toBe(false)
      }
    }
  })

  it('turns recursive $defs into recursive rules instead of looping, through # and JSON pointers', () => {
    const { gbnf } = jsonSchemaGrammar({
      $ref: '#/$defs/node',
      $defs: { node: { type: 'object', properties: { next: { anyOf: [{ $ref: '#/$defs/node' }, { type: 'null' }] }, tree: { $ref: '#' } }, required: ['next'] } },
    })
    expect(gbnf.match(/^ref-\d+ ::=/gm)).toHaveLength(2)
  })

  it('keeps enum values that satisfy type, and merges allOf wrappers and object schemas', () => {
    expect(jsonSchemaGrammar({ type: 'string', enum: ['a', 1, 'b'] }).gbnf).toMatch(/^root ::= \( "\\"a\\"" \| "\\"b\\"" \)$/m)
    expect(jsonSchemaGrammar({ allOf: [{ $ref: '#/definitions/foo' }, { $ref: '#/definitions/bar' }], definitions: { foo: { type: 'string', enum: ['a', 'b', 'c'] }, bar: { type: 'string', enum: ['b', 'c', 'd'] } } }).gbnf)
      .toMatch(/^root ::= \( "\\"b\\"" \| "\\"c\\"" \)$/m)
    const { gbnf } = jsonSchemaGrammar({ allOf: [{ type: 'object', properties: { a: { type: 'string' } }, required: ['a'] }, { properties: { b: { type: 'integer' } }, required: ['b'] }] })
    expect(gbnf).toContain('"\\"a\\"" ws ":" ws string')
    expect(gbnf).toContain('"\\"b\\"" ws ":" ws integer')
  })

  it('relaxes under strict: false and says what', () => {
    const { relaxed } = jsonSchemaGrammar({ type: 'object', properties: { x: { type: 'string', pattern: '(?<=a)b' } } }, { strict: false })
    expect(relaxed).toEqual([{ keyword: 'pattern', pointer: '/properties/x/pattern' }])
  })

  it('bounds whitespace: at most two newlines and 20 blanks between tokens', () => {
    expect(jsonSchemaGrammar({ type: 'object' }).gbnf).toContain('ws ::= | " " | "\\n"{1,2} [ \\t]{0,20}')
  })
})

describe('patternGrammar', () => {
  it('translates what llama.cpp does and writes quotes and backslashes as JSON escapes', () => {
    expect(patternGrammar('^"$')).toBe('"\\\\\\""')
    expect(patternGrammar('^[0-9]{3}-\\d+$')).toBe('( [0-9]{3} "-" [0-9]+ )')
    expect(patternGrammar('^a|b$')).toContain('|')
  })

  it.each(['^(a)\\1$', '^(?=x)', '^(?!x)', '^(?<=x)a$', '\\bword', '\\p{L}', '^(?i)a$'])('refuses %s by name', (pattern) => {
    expect(() => patternGrammar(pattern)).toThrow(PatternError)
  })
})

describe('schemaConstraint', () => {
  it('is a 400 naming the field and the pointer', () => {
    try {
      schemaConstraint({ type: 'object', properties: { x: { type: 'string', pattern: '(?=a)' } } }, { param: 'response_format.json_schema.schema', strict: true })
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidRequestError)
      expect((error as InvalidRequestError).param).toBe('response_format.json_schema.schema')
      expect((error as Error).message).toContain("'#/properties/x/pattern'")
    }
  })

  it('validates relaxed output against the schema without the relaxed keyword, and caches by schema', () => {
    const schema = { type: 'object', properties: { x: { type: 'string', pattern: '(?=a)' } }, required: ['x'] }
    const a = schemaConstraint(schema, { param: 'p', strict: false })
    expect(a.relaxed).toEqual(['pattern at p#/properties/x'])
    expect(a.schema).toEqual({ type: 'object', properties: { x: { type: 'string' } }, required: ['x'] })
    expect(schemaConstraint(structuredClone(schema), { param: 'p', strict: false })).toBe(a)
  })

  it('refuses a schema its draft does not allow before anything runs', () => {
    expect(() => schemaConstraint({ $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'string', minLength: 'x' }, { param: 'p', strict: true })).toThrow(InvalidRequestError)
  })
})

describe('uniqueItems over a known set', () => {
  it('offers each enum value of the item type once, dropping values of other types and repeats', () => {
    const { gbnf } = jsonSchemaGrammar({ type: 'array', items: { type: 'string', enum: ['a', 1, 'b', 'a'] }, uniqueItems: true })
    const offered = [...gbnf.matchAll(/^uniq-\d+-\d+-first ::= (\S+)/gm)].map((m) => m[1])
    expect(offered).toEqual(['"\\"b\\""', '"\\"a\\""'])
  })
})

describe('grammar budget', () => {
  it('refuses what would stall the step loop, naming the keyword; long strings come in named chunks', () => {
    const huge = refusal({ enum: Array.from({ length: 20000 }, (_, i) => `value-${i}`) })
    expect([huge.keyword, huge.pointer, huge.budget, huge.relaxable]).toEqual(['enum', '/enum', true, false])
    expect(refusal({ type: 'array', maxItems: 5000 }).keyword).toBe('maxItems')
    expect(refusal({ type: 'string', pattern: '^(a{1,2000}){1,2000}$' }).keyword).toBe('pattern')
    expect(jsonSchemaGrammar({ type: 'string', minLength: 2500, maxLength: 5000 }).gbnf).toMatch(/"\\"" r-\d+\{2\} char\{500\} r-\d+\{0,2\} char\{0,500\} "\\""/)
  })
})

describe('multipleOf', () => {
  /** Runs the automaton's rules (alternatives of `"d"`/`[ds]` then a state, or `""`) over a number's digits. */
  function matches(gbnf: string, text: string): boolean {
    const rules = new Map(gbnf.split('\n').filter((l) => / ::= /.test(l)).map((l) => [l.slice(0, l.indexOf(' ::= ')), l.slice(l.indexOf(' ::= ') + 5)]))
    const step = (alternatives: string[], rest: string): boolean =>
      alternatives.some((alt) => {
        if (alt === '""') return rest === ''
        const [digits, next] = alt.split(' ')
        return rest !== '' && digits!.replace(/[[\]"]/g, '').includes(rest[0]!) && step(rules.get(next!)!.split(' | '), rest.slice(1))
      })
    if (text === '0') return true
    const root = rules.get(/^root ::= (\S+)/m.exec(gbnf)![1]!)!
    const digits = text.replace(/^-/, '')
    return /^[1-9]/.test(digits) && step(/\( (.*) \)$/.exec(root)![1]!.split(' | '), digits)
  }

  it('enforces whole divisors with a remainder automaton (zod multipleOf, Pydantic multiple_of)', () => {
    const { gbnf } = jsonSchemaGrammar({ type: 'integer', multipleOf: 7, minimum: -9007199254740991, maximum: 9007199254740991 })
    for (let n = -200; n <= 200; n++) expect(matches(gbnf, String(n)), String(n)).toBe(n % 7 === 0)
    expect(matches(gbnf, '700000000000007')).toBe(true)
    expect(matches(gbnf, '7000000000000007')).toBe(false)
    expect(refusal({ type: 'integer', multipleOf: 5, minimum: 0, maximum: 100 }).keyword).toBe('multipleOf')
    expect(refusal({ type: 'number', multipleOf: 0.01 }).keyword).toBe('multipleOf')
  })
})

import { Ajv } from 'ajv'
import { Ajv2019 } from 'ajv/dist/2019.js'
import { Ajv2020 } from 'ajv/dist/2020.js'
import AjvDraft04 from 'ajv-draft-04'
import addFormats from 'ajv-formats'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SPM_VOCAB } from '../src/gguf/spm-vocab.js'
import { postJson, startTestServer, type TestServer } from './helpers/test-server.js'

/**
 * Random schemas drawn from what the converter supports, each sampled on a random-weight model (whose
 * output only the grammar shapes): every answer is a 200 whose content validates under draft-04, draft-07,
 * 2019-09 and 2020-12 validators. Strings, arrays and records are bounded so that a random model ends them.
 */
let t: TestServer

beforeAll(async () => {
  t = await startTestServer({ parallel: '4', contextSize: '2048' })
})
afterAll(() => t?.close())

const BIAS = Object.fromEntries([...['"', '}', ']'].map((c) => [SPM_VOCAB.tokens.indexOf(c), 4]), [SPM_VOCAB.imEndId, 3], [SPM_VOCAB.eosId, 3]])
const SAFE = 9007199254740991

type S = Record<string, unknown>

const integer: fc.Arbitrary<S> = fc
  .record({ lo: fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.constantFrom(-SAFE, -99999999999999, 0, 1)), span: fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.constantFrom(SAFE, 999999999999999)), exclusive: fc.boolean() })
  .map(({ lo, span, exclusive }) => {
    const hi = Math.min(lo + span, SAFE)
    return exclusive && hi - lo >= 2 ? { type: 'integer', exclusiveMinimum: lo, exclusiveMaximum: hi } : { type: 'integer', minimum: lo, maximum: hi }
  })

const number: fc.Arbitrary<S> = fc
  .record({ lo: fc.constantFrom(-130, -1.5, 0, 0.25, 3), span: fc.constantFrom(0.5, 1, 2.75, 100, 1e6), exclusive: fc.boolean() })
  .map(({ lo, span, exclusive }) => (exclusive ? { type: 'number', exclusiveMinimum: lo, exclusiveMaximum: lo + span } : { type: 'number', minimum: lo, maximum: lo + span }))

const leaf: fc.Arbitrary<S> = fc.oneof(
  fc.integer({ min: 0, max: 6 }).chain((max) => fc.integer({ min: 0, max }).map((min) => ({ type: 'string', minLength: min, maxLength: max }))),
  fc.constantFrom('date', 'time', 'date-time', 'uuid', 'email', 'uri', 'ipv4', 'ipv6', 'hostname', 'duration').map((format) => ({ type: 'string', format })),
  fc.constantFrom('^[a-z]{2,4}$', '^\\d{3}-\\d{2}$', '^(foo|bar){1,3}$', '^@[a-zA-Z0-9_]{1,5}$', '^[A-Z]+$', '^a\\-b$', '^x"y\\\\z$').map((pattern) => ({ type: 'string', pattern, ...(pattern === '^[A-Z]+$' ? { maxLength: 4 } : {}) })),
  integer,
  number,
  fc.constant({ type: 'boolean' }),
  fc.constant({ type: 'null' }),
  fc.constant({ type: 'string', enum: ['red', 'green', 7, null] }),
  fc.constant({ type: 'boolean', const: true }),
  fc.constant({ type: ['integer', 'null'], minimum: 1, maximum: 9 }),
  fc.constantFrom(3, 5, 12).map((multipleOf) => ({ type: 'integer', multipleOf })),
)

const schema: fc.Arbitrary<S> = fc.letrec<{ node: S }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc
      .record({ props: fc.uniqueArray(fc.constantFrom('a', 'b', 'c', 'd'), { minLength: 1, maxLength: 3 }), closed: fc.boolean(), requiredMask: fc.nat(7) })
      .chain(({ props, closed, requiredMask }) =>
        fc.tuple(...props.map(() => tie('node'))).map((values) => ({
          type: 'object',
          properties: Object.fromEntries(props.map((p, i) => [p, values[i]])),
          required: props.filter((_, i) => requiredMask & (1 << i)),
          ...(closed ? { additionalProperties: false } : {}),
        })),
      ),
    fc.record({ item: tie('node'), min: fc.nat(1), max: fc.integer({ min: 1, max: 3 }) }).map(({ item, min, max }) => ({ type: 'array', items: item, minItems: min, maxItems: max })),
    fc.record({ first: tie('node'), second: tie('node'), min: fc.nat(2) }).map(({ first, second, min }) => ({ type: 'array', prefixItems: [first, second], items: false, minItems: min })),
    fc.record({ value: tie('node'), keys: fc.constantFrom({ type: 'string', maxLength: 3 }, { pattern: '^k[0-9]$' }, { enum: ['x', 'y'] }) }).map(({ value, keys }) => ({ type: 'object', propertyNames: keys, additionalProperties: value, maxProperties: 2 })),
    fc.tuple(tie('node'), tie('node')).map(([a, b]) => ({ anyOf: [a, b] })),
    tie('node').map((inner) => ({ type: 'object', properties: { wrapped: { allOf: [inner], description: 'a wrapper' } }, required: ['wrapped'] })),
    fc.constant({ type: 'array', items: { enum: ['a', 'b', 'c'] }, uniqueItems: true }),
  ),
})).node

/** Before 2020-12 a tuple is `items: [...]` with `additionalItems`: the same schema in that spelling. */
function asTupleItems(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(asTupleItems)
  if (typeof s !== 'object' || s === null) return s
  const out: S = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, asTupleItems(v)]))
  if (Array.isArray(out.prefixItems)) {
    Object.assign(out, { items: out.prefixItems, ...(out.items === undefined ? {} : { additionalItems: out.items }) })
    delete out.prefixItems
  }
  return out
}

/** Draft-04 also spells exclusive bounds as booleans, has no const and wants required lists non-empty. */
function asDraft04(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(asDraft04)
  if (typeof s !== 'object' || s === null) return s
  const out: S = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, asDraft04(v)]))
  if (typeof out.exclusiveMinimum === 'number') Object.assign(out, { minimum: out.exclusiveMinimum, exclusiveMinimum: true })
  if (typeof out.exclusiveMaximum === 'number') Object.assign(out, { maximum: out.exclusiveMaximum, exclusiveMaximum: true })
  if (out.const !== undefined) {
    out.enum = [out.const]
    delete out.const
  }
  if (Array.isArray(out.required) && out.required.length === 0) delete out.required
  return out
}

// unicodeRegExp: false as in the server's validator, for Python-style patterns such as `\\-`.
const OPTIONS = { strict: false, unicodeRegExp: false }
const validators = [
  ['2020-12', addFormats.default(new Ajv2020(OPTIONS) as unknown as Ajv), (s: S) => s],
  ['2019-09', addFormats.default(new Ajv2019(OPTIONS) as unknown as Ajv), (s: S) => asTupleItems(s) as S],
  ['draft-07', addFormats.default(new Ajv(OPTIONS)), (s: S) => asTupleItems(s) as S],
  ['draft-04', addFormats.default(new AjvDraft04.default(OPTIONS) as unknown as Ajv), (s: S) => asDraft04(asTupleItems(s)) as S],
] as const

describe('random schemas on a random-weight model', () => {
  // Two samples of 48 schemas (SCHEMA_SEED picks another), each request with its own sampling seed.
  it.each(process.env.SCHEMA_SEED ? [Number(process.env.SCHEMA_SEED)] : [1313, 4])('always answer 200 with output valid under every draft (sample %i)', async (sampleSeed) => {
    // Every third schema goes behind Pydantic's wrapper: `allOf: [{$ref}]` into `$defs`.
    const schemas = fc.sample(schema, { seed: sampleSeed, numRuns: 48 }).map((s, i) => (i % 3 === 0 ? { $defs: { Model: s }, allOf: [{ $ref: '#/$defs/Model' }], title: 'M' } : s))
    // Each schema is sent in one draft's spelling, under its `$schema` (or none: then 2020-12 is assumed).
    const spellings = [
      (s: S) => ({ $schema: 'https://json-schema.org/draft/2020-12/schema', ...s }),
      (s: S) => ({ $schema: 'https://json-schema.org/draft/2019-09/schema', ...(asTupleItems(s) as S) }),
      (s: S) => ({ $schema: 'http://json-schema.org/draft-07/schema#', ...(asTupleItems(s) as S) }),
      (s: S) => ({ $schema: 'http://json-schema.org/draft-04/schema#', ...(asDraft04(asTupleItems(s)) as S) }),
      (s: S) => s,
    ]
    const results = await Promise.all(
      schemas.map(async (s, i) => {
        const sent = spellings[i % spellings.length]!(s)
        const res = await postJson(t.origin, '/v1/chat/completions', {
          model: 'tiny-chat',
          messages: [{ role: 'user', content: 'JSON please.' }],
          response_format: { type: 'json_schema', json_schema: { name: 'random', schema: sent, strict: true } },
          max_tokens: 400,
          seed: i,
          logit_bias: BIAS,
        })
        return { s, res }
      }),
    )
    for (const { s, res } of results) {
      const label = `${JSON.stringify(s)}\n${res.text.slice(0, 400)}`
      expect(res.status, label).toBe(200)
      expect(res.json.choices[0].finish_reason, label).toBe('stop')
      const value = JSON.parse(res.json.choices[0].message.content)
      for (const [draft, ajv, adapt] of validators) {
        const validate = ajv.compile(adapt(s))
        expect(validate(value), `${draft}: ${ajv.errorsText(validate.errors)}\n${label}`).toBe(true)
      }
    }
  }, 600_000)
})

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SPM_VOCAB } from '../src/gguf/spm-vocab.js'
import { HERMES_MODEL_PATH } from './helpers/models.js'
import { postJson, startTestServer, type TestServer } from './helpers/test-server.js'

/**
 * `strict: false` keeps enforcing what the grammar can and names what it left out in `x-schema-relaxed`;
 * `strict: true` and no `strict` refuse. Every draft's `$schema` is understood by the final validation.
 */
let t: TestServer

beforeAll(async () => {
  t = await startTestServer({ model: [HERMES_MODEL_PATH], parallel: '2', contextSize: '2048' })
})
afterAll(() => t?.close())

const BIAS = Object.fromEntries([...['"', '}', ']'].map((c) => [SPM_VOCAB.tokens.indexOf(c), 4]), [SPM_VOCAB.imEndId, 3], [SPM_VOCAB.eosId, 3]])
const LOOKAHEAD = { type: 'object', properties: { code: { type: 'string', pattern: '^(?=A)[A-Z]{2,4}$' }, n: { type: 'integer', minimum: 1, maximum: 5 } }, required: ['code', 'n'], additionalProperties: false }

const chat = (extra: Record<string, unknown>) =>
  postJson(t.origin, '/v1/chat/completions', { model: 'tiny-hermes', messages: [{ role: 'user', content: 'Go.' }], max_tokens: 300, seed: 3, logit_bias: BIAS, ...extra })

describe('strict', () => {
  it('false: relaxes the keyword, enforces the rest and says so in x-schema-relaxed', async () => {
    const res = await chat({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: LOOKAHEAD, strict: false } } })
    expect(res.status, res.text).toBe(200)
    expect(res.headers.get('x-schema-relaxed')).toBe('pattern at response_format.json_schema.schema#/properties/code')
    const value = JSON.parse(res.json.choices[0].message.content)
    expect(value.n).toBeGreaterThanOrEqual(1)
    expect(value.n).toBeLessThanOrEqual(5)
  })

  it.each([true, undefined])('%s: a 400 naming the keyword and its pointer, before generation', async (strict) => {
    const res = await chat({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: LOOKAHEAD, ...(strict === undefined ? {} : { strict }) } } })
    expect(res.status).toBe(400)
    expect(res.json.error.param).toBe('response_format.json_schema.schema')
    expect(res.json.error.message).toContain("'#/properties/code/pattern'")
    expect(res.headers.get('x-schema-relaxed')).toBeNull()
  })

  it('false on a tool: its arguments keep the rest of the schema, and the header names the tool', async () => {
    const res = await chat({ tools: [{ type: 'function', function: { name: 'f', parameters: LOOKAHEAD, strict: false } }], tool_choice: 'required' })
    expect(res.status, res.text).toBe(200)
    expect(res.headers.get('x-schema-relaxed')).toBe('pattern at tools[0].function.parameters#/properties/code')
    const args = JSON.parse(res.json.choices[0].message.tool_calls[0].function.arguments)
    expect(Object.keys(args).sort()).toEqual(['code', 'n'])
    const refused = await chat({ tools: [{ type: 'function', function: { name: 'f', parameters: LOOKAHEAD } }], tool_choice: 'required' })
    expect(refused.status).toBe(400)
    expect(refused.json.error.param).toBe('tools[0].function.parameters')
  })
})

describe('$schema of every draft', () => {
  it.each([
    ['http://json-schema.org/draft-04/schema#', { type: 'object', properties: { p: { type: 'number', minimum: 0, exclusiveMinimum: true, maximum: 1 }, t: { type: 'array', items: [{ type: 'boolean' }, { enum: ['a'] }], additionalItems: false, minItems: 2 } }, required: ['p', 't'] }],
    ['http://json-schema.org/draft-06/schema#', { type: 'object', properties: { c: { const: 7 } }, required: ['c'] }],
    ['http://json-schema.org/draft-07/schema#', { type: 'object', definitions: { s: { type: 'string', maxLength: 3 } }, properties: { s: { $ref: '#/definitions/s' } }, required: ['s'] }],
    ['https://json-schema.org/draft/2019-09/schema', { type: 'object', $defs: { n: { type: 'integer', exclusiveMaximum: 10, minimum: 0 } }, properties: { n: { $ref: '#/$defs/n', description: 'siblings beside $ref' } }, required: ['n'] }],
    ['https://json-schema.org/draft/2020-12/schema', { type: 'object', properties: { t: { type: 'array', prefixItems: [{ type: 'integer' }, { format: 'uuid' }], items: false, minItems: 1 } }, required: ['t'] }],
  ])('%s is generated and validated (never a 500)', async ($schema, schema) => {
    const res = await chat({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { $schema, ...schema }, strict: true } } })
    expect(res.status, res.text).toBe(200)
    expect(res.json.choices[0].finish_reason).toBe('stop')
    expect(() => JSON.parse(res.json.choices[0].message.content)).not.toThrow()
  })
})

import { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import { zodResponseFormat } from 'openai/helpers/zod'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { SPM_VOCAB } from '../src/gguf/spm-vocab.js'
import { sseEvents } from './helpers/sse.js'
import { postJson, startTestServer, type TestServer } from './helpers/test-server.js'

let t: TestServer
const MODEL = 'tiny-chat'
const ajv = addFormats.default(new Ajv({ strict: false }))

beforeAll(async () => {
  t = await startTestServer({ parallel: '4', contextSize: '2048' })
})
afterAll(() => t?.close())

async function generate(responseFormat: unknown, seed: number, extra: Record<string, unknown> = {}) {
  return postJson(t.origin, '/v1/chat/completions', {
    model: MODEL,
    messages: [{ role: 'user', content: 'Answer in JSON.' }],
    response_format: responseFormat,
    max_tokens: 600,
    temperature: 1,
    seed,
    ...extra,
  })
}

/**
 * A random-weight model has no reason to close an unbounded string or object; nudging the closing
 * characters (a plain logit_bias, applied before the grammar) lets such outputs finish within max_tokens.
 */
const CLOSERS = { logit_bias: Object.fromEntries(['"', '}', ']'].map((c) => [SPM_VOCAB.tokens.indexOf(c), 4])) }

/** Every seed's output must parse and validate: the grammar leaves the random model no other way. */
async function expectAlwaysValid(schema: object, seeds: number, extra: Record<string, unknown> = {}) {
  const validate = ajv.compile(schema)
  const outputs = await Promise.all(
    Array.from({ length: seeds }, (_, seed) =>
      generate({ type: 'json_schema', json_schema: { name: 'test', schema, strict: true } }, seed, extra),
    ),
  )
  for (const res of outputs) {
    expect(res.status, res.text).toBe(200)
    expect(res.json.choices[0].finish_reason).toBe('stop')
    const value = JSON.parse(res.json.choices[0].message.content)
    expect(validate(value), `${res.json.choices[0].message.content}\n${ajv.errorsText(validate.errors)}`).toBe(true)
  }
  return outputs.map((res) => JSON.parse(res.json.choices[0].message.content))
}

describe('response_format', () => {
  it('json_object (and DeepInfra\'s "json") always yields one JSON object', async () => {
    for (const [type, seed] of [['json_object', 1], ['json_object', 2], ['json', 3], ['json', 4]] as const) {
      const res = await generate({ type }, seed, CLOSERS)
      expect(res.status).toBe(200)
      expect(res.json.choices[0].finish_reason).toBe('stop')
      const value = JSON.parse(res.json.choices[0].message.content)
      expect(typeof value).toBe('object')
      expect(Array.isArray(value)).toBe(false)
      expect(value).not.toBeNull()
    }
  })

  it('json_schema output validates for many seeds: types, required vs optional, enums, ranges, formats, refs', async () => {
    const schema = {
      type: 'object',
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 12 },
        age: { type: 'integer', minimum: 18, maximum: 99 },
        offset: { type: 'integer', minimum: -40, maximum: 7 },
        score: { type: 'number', minimum: 0, maximum: 1 },
        kind: { enum: ['cat', 'dog', 3, null] },
        version: { const: 'v1' },
        tags: { type: 'array', items: { type: 'string', maxLength: 5 }, minItems: 1, maxItems: 3 },
        nickname: { type: ['string', 'null'], maxLength: 8 },
        born: { type: 'string', format: 'date' },
        at: { type: 'string', format: 'date-time' },
        id: { type: 'string', format: 'uuid' },
        contact: { anyOf: [{ type: 'string', format: 'time' }, { type: 'integer', minimum: 0, maximum: 9 }] },
        owner: { $ref: '#/$defs/person' },
        pair: { type: 'array', prefixItems: [{ type: 'boolean' }, { type: 'integer' }] },
      },
      required: ['name', 'age', 'offset', 'kind', 'version', 'tags', 'owner'],
      additionalProperties: false,
      $defs: {
        person: {
          type: 'object',
          properties: { first: { type: 'string', maxLength: 6 }, friend: { anyOf: [{ $ref: '#/$defs/person' }, { type: 'null' }] } },
          required: ['first', 'friend'],
          additionalProperties: false,
        },
      },
    }
    const values = await expectAlwaysValid(schema, 12)
    // Optional properties are really optional: not every output has every one of them.
    const optional = ['score', 'nickname', 'born', 'at', 'id', 'contact', 'pair']
    expect(optional.some((key) => values.some((v) => !(key in v)))).toBe(true)
  })

  it('top-level arrays, unions and dictionaries validate too', async () => {
    await expectAlwaysValid({ type: 'array', items: { type: 'integer', minimum: 100, maximum: 2500 }, minItems: 2, maxItems: 4 }, 6)
    await expectAlwaysValid({ oneOf: [{ type: 'boolean' }, { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] }] }, 6)
    await expectAlwaysValid({ type: 'object', additionalProperties: { type: 'integer', minimum: 0, maximum: 3 } }, 6, CLOSERS)
  })

  it('a schema beside json_object (llama.cpp style) is enforced as well', async () => {
    const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false }
    const res = await generate({ type: 'json_object', schema }, 5)
    expect(ajv.validate(schema, JSON.parse(res.json.choices[0].message.content))).toBe(true)
  })

  it('grammar carries GBNF', async () => {
    const res = await generate({ type: 'grammar', grammar: 'root ::= "yes" | "no"' }, 1)
    expect(['yes', 'no']).toContain(res.json.choices[0].message.content)
  })

  it('characters whose UTF-8 bytes come in several byte tokens arrive intact, streamed and not', async () => {
    const text = 'é 日本 😀 👍🏽!'
    const grammar = { type: 'grammar', grammar: `root ::= ${JSON.stringify(text)}` }
    const whole = await generate(grammar, 1)
    expect(whole.json.choices[0].message.content).toBe(text)
    const streamed = await postJson(t.origin, '/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'Hi' }], response_format: grammar, max_tokens: 100, stream: true })
    const deltas = sseEvents(streamed.text).flatMap((e) => (e === '[DONE]' ? [] : [e.choices[0]?.delta?.content ?? '']))
    for (const delta of deltas) expect(delta).not.toContain('\uFFFD')
    expect(deltas.join('')).toBe(text)
    // The same characters inside structured output: a schema const validates (it was a 500 when they broke).
    const schema = { type: 'object', properties: { city: { const: '東京' } }, required: ['city'], additionalProperties: false }
    const city = await generate({ type: 'json_schema', json_schema: { name: 'city', strict: true, schema } }, 2)
    expect(city.status, city.text).toBe(200)
    expect(JSON.parse(city.json.choices[0].message.content)).toEqual({ city: '東京' })
  })

  it("other servers' fields constrain the output too: llama-server's grammar/json_schema, vLLM's guided_* and structured_outputs", async () => {
    const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false }
    const validJson = (content: string) => ajv.validate(schema, JSON.parse(content))
    const cases: Array<[Record<string, unknown>, (content: string) => boolean]> = [
      [{ grammar: 'root ::= "yes" | "no"' }, (c) => ['yes', 'no'].includes(c)],
      [{ guided_grammar: 'root ::= "up" | "down"' }, (c) => ['up', 'down'].includes(c)],
      [{ guided_choice: ['red', 'green', 'a "quoted" one'] }, (c) => ['red', 'green', 'a "quoted" one'].includes(c)],
      [{ structured_outputs: { choice: ['left', 'right'] } }, (c) => ['left', 'right'].includes(c)],
      [{ json_schema: schema }, validJson],
      [{ guided_json: schema }, validJson],
      [{ guided_json: JSON.stringify(schema) }, validJson],
      [{ structured_outputs: { json: schema } }, validJson],
      [{ structured_outputs: { json_object: true }, ...CLOSERS }, (c) => typeof JSON.parse(c) === 'object'],
    ]
    for (const [fields, valid] of cases) {
      for (const seed of [1, 2, 3]) {
        const res = await generate(undefined, seed, fields)
        expect(res.status, res.text).toBe(200)
        expect(res.headers.get('x-ignored-params'), JSON.stringify(fields)).toBeNull()
        expect(valid(res.json.choices[0].message.content), `${JSON.stringify(fields)} → ${res.json.choices[0].message.content}`).toBe(true)
      }
    }
  })

  it('streams structured output that concatenates to the same JSON', async () => {
    const format = { type: 'json_schema', json_schema: { name: 's', schema: { type: 'object', properties: { a: { type: 'integer' } }, required: ['a'] } } }
    const whole = await generate(format, 9)
    const streamed = await t.client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Answer in JSON.' }],
      response_format: format as never,
      max_tokens: 600,
      temperature: 1,
      seed: 9,
      stream: true,
    })
    let text = ''
    for await (const chunk of streamed) text += chunk.choices[0]?.delta.content ?? ''
    expect(text).toBe(whole.json.choices[0].message.content)
  })

  it("works with the SDK's zod helper and parse()", async () => {
    const Event = z.object({ title: z.string().max(10), attendees: z.array(z.string().max(6)).max(3), confirmed: z.boolean() })
    const completion = await t.client.chat.completions.parse({
      model: MODEL,
      messages: [{ role: 'user', content: 'Extract the event.' }],
      response_format: zodResponseFormat(Event, 'event'),
      max_tokens: 400,
      seed: 3,
    })
    const parsed = completion.choices[0]!.message.parsed!
    expect(Event.parse(parsed)).toEqual(parsed)
  })
})

describe('refusals name what cannot be enforced', () => {
  it.each([
    ['a lookahead pattern', { type: 'string', pattern: '^(?=a)[a-z]+$' }, "'#/pattern'"],
    ['a nested backreference', { type: 'object', properties: { code: { type: 'string', pattern: '^(a)\\1$' } } }, "'#/properties/code/pattern'"],
    ['uniqueItems of an open set', { type: 'array', items: { type: 'integer' }, uniqueItems: true }, "'#/uniqueItems'"],
    ['a remote $ref', { $ref: 'https://example.com/schema.json' }, "'#/$ref'"],
    ['not', { not: { type: 'string' } }, "'#/not'"],
    ['multipleOf', { type: 'number', multipleOf: 0.25 }, "'#/multipleOf'"],
    ['minProperties of a record', { type: 'object', minProperties: 2 }, "'#/minProperties'"],
    ['an invalid schema (its draft says so)', { $schema: 'http://json-schema.org/draft-04/schema#', type: 'string', maxLength: 'ten' }, "'#/maxLength'"],
  ])('%s', async (_name, schema, where) => {
    const res = await generate({ type: 'json_schema', json_schema: { name: 'x', schema } }, 1)
    expect(res.status).toBe(400)
    expect(res.json.error.param).toBe('response_format.json_schema.schema')
    expect(res.json.error.message).toContain(where)
  })

  it('refuses a missing schema, an unknown type, bad GBNF and options that would fight the grammar', async () => {
    const expect400 = async (format: unknown, param: string, extra: Record<string, unknown> = {}) => {
      const res = await generate(format, 1, extra)
      expect(res.status, res.text).toBe(400)
      expect(res.json.error.param).toBe(param)
    }
    await expect400({ type: 'json_schema', json_schema: { name: 'x' } }, 'response_format.json_schema.schema')
    await expect400({ type: 'structural_tag' }, 'response_format.type')
    await expect400({ type: 'grammar', grammar: 'root ::= undefined-rule' }, 'response_format.grammar')
    // A grammar that parses but can never be satisfied stops sampling: that request's 400, nobody else's problem.
    await expect400({ type: 'grammar', grammar: 'root ::= [z-a]' }, 'response_format.grammar')
    await expect400({ type: 'json_object' }, 'ignore_eos', { ignore_eos: true })
    await expect400({ type: 'json_object' }, 'min_tokens', { min_tokens: 3 })
    await expect400({ type: 'json_object' }, 'logprobs', { logprobs: true })
    // Two constraints at once, a regex (not enforceable), JSON text that does not parse.
    await expect400({ type: 'json_object' }, 'guided_choice', { guided_choice: ['a', 'b'] })
    await expect400(undefined, 'guided_json', { grammar: 'root ::= "a"', guided_json: { type: 'object' } })
    await expect400(undefined, 'guided_regex', { guided_regex: '[a-z]+' })
    await expect400(undefined, 'structured_outputs.regex', { structured_outputs: { regex: '[a-z]+' } })
    await expect400(undefined, 'guided_json', { guided_json: '{not json' })
    await expect400(undefined, 'grammar', { grammar: 'root ::= undefined-rule' })
    await expect400(undefined, 'json_schema', { json_schema: { type: 'string', pattern: '(?!a)' } })
  })
})

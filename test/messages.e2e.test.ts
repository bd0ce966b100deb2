import Anthropic, { AuthenticationError, BadRequestError, NotFoundError, type APIError } from '@anthropic-ai/sdk'
import { Ajv } from 'ajv'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HERMES_MODEL_PATH } from './helpers/models.js'
import { parseTypedEvents } from './helpers/sse.js'
import { postJson, startTestServer, type TestServer } from './helpers/test-server.js'

/** The Anthropic Messages API with Anthropic's own SDK, on a tiny model whose template teaches tools. */

const KEY = 'sk-ant-local'
let t: TestServer
let client: Anthropic

beforeAll(async () => {
  // `claude-*` catches every versioned name Anthropic clients send.
  t = await startTestServer({}, undefined, `
server:
  apiKeys: [${KEY}]
models:
  - id: tiny-hermes
    source: ${JSON.stringify(HERMES_MODEL_PATH)}
    aliases: ["claude-*"]
    threads: 1
    contextSize: 2048
    parallel: 2
`)
  client = new Anthropic({ baseURL: t.origin, apiKey: KEY, maxRetries: 0, timeout: 60_000 })
})
afterAll(() => t?.close())

const MODEL = 'claude-sonnet-4-5-20250929'
const SYSTEM = 'You are a terse assistant.'
const CONVERSATION: Anthropic.MessageParam[] = [
  { role: 'user', content: 'Name a colour.' },
  { role: 'assistant', content: 'Blue.' },
  { role: 'user', content: [{ type: 'text', text: 'Another one?' }] },
]

const WEATHER: Anthropic.Tool = {
  name: 'get_weather',
  description: 'Weather for a city',
  input_schema: {
    type: 'object',
    properties: { city: { type: 'string', maxLength: 8 }, unit: { enum: ['c', 'f'] } },
    required: ['city', 'unit'],
  },
}
const ALARM: Anthropic.Tool = {
  name: 'set_alarm',
  input_schema: { type: 'object', properties: { hour: { type: 'integer', minimum: 0, maximum: 23 } }, required: ['hour'], additionalProperties: false },
}
const ajv = new Ajv({ strict: false })
const VALIDATE = new Map([WEATHER, ALARM].map((tool) => [tool.name, ajv.compile(tool.input_schema)]))

function expectValidToolUse(block: Anthropic.ContentBlock | undefined, names: string[]): Anthropic.ToolUseBlock {
  expect(block?.type).toBe('tool_use')
  const use = block as Anthropic.ToolUseBlock
  expect(use.id).toMatch(/^toolu_[0-9a-f]+$/)
  expect(names).toContain(use.name)
  expect(VALIDATE.get(use.name)!(use.input), JSON.stringify(use.input)).toBe(true)
  return use
}

describe('POST /v1/messages', () => {
  it('count_tokens equals the input tokens of the same request (all of them: evaluated plus read from the cache)', async () => {
    const params = { model: MODEL, system: SYSTEM, messages: CONVERSATION, tools: [WEATHER] }
    const { input_tokens } = await client.messages.countTokens(params)
    const first = await client.messages.create({ ...params, max_tokens: 2 })
    // The first request on fresh slots reads nothing from the cache.
    expect(first.usage.cache_read_input_tokens).toBe(0)
    expect(first.usage.input_tokens).toBe(input_tokens)
    const again = await client.messages.create({ ...params, max_tokens: 2 })
    expect(again.usage.cache_read_input_tokens).toBeGreaterThan(0)
    expect(again.usage.input_tokens + again.usage.cache_read_input_tokens!).toBe(input_tokens)
    expect(again.usage.cache_creation_input_tokens).toBe(0)
  })

  it('messages.create: system, multi-turn, max_tokens, in Anthropic’s shape; the model name is echoed', async () => {
    const message = await client.messages.create({ model: MODEL, system: SYSTEM, messages: CONVERSATION, max_tokens: 6, metadata: { user_id: 'u-1' } })
    expect(message).toMatchObject({ type: 'message', role: 'assistant', model: MODEL, stop_sequence: null })
    expect(message.id).toMatch(/^msg_[0-9a-f]{24}$/)
    expect(message.usage.output_tokens).toBeGreaterThan(0)
    expect(message.usage.output_tokens).toBeLessThanOrEqual(6)
    expect(message.stop_reason).toBe(message.usage.output_tokens === 6 ? 'max_tokens' : 'end_turn')
    for (const block of message.content) expect(block.type).toBe('text')
  })

  it('stop_sequences: the text ends before the first match, stop_reason stop_sequence names it', async () => {
    const params = { model: MODEL, messages: CONVERSATION, max_tokens: 24, temperature: 0 } as Anthropic.MessageCreateParamsNonStreaming
    const free = await client.messages.create(params)
    const text = (free.content[0] as Anthropic.TextBlock).text
    expect(text.length).toBeGreaterThan(6)
    const stop = text.slice(4, 6)
    const stopped = await client.messages.create({ ...params, stop_sequences: ['#never#', stop] })
    expect(stopped.stop_reason).toBe('stop_sequence')
    expect(stopped.stop_sequence).toBe(stop)
    expect(stopped.content).toEqual(text.indexOf(stop) > 0 ? [{ type: 'text', text: text.slice(0, text.indexOf(stop)) }] : [])
  })

  it('messages.stream(): events in order with consistent indices; finalMessage() equals the non-streamed message', async () => {
    const params = { model: MODEL, system: SYSTEM, messages: CONVERSATION, max_tokens: 12, temperature: 0 } as Anthropic.MessageCreateParamsNonStreaming
    const plain = await client.messages.create(params)
    const stream = client.messages.stream(params)
    const types: string[] = []
    let text = ''
    for await (const event of stream) {
      types.push(event.type)
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') {
        expect(event.index).toBe(0)
        text += event.delta.text
      }
    }
    const final = await stream.finalMessage()
    expect(types[0]).toBe('message_start')
    expect(types.slice(-2)).toEqual(['message_delta', 'message_stop'])
    expect(types[1]).toBe('content_block_start')
    expect(types.at(-3)).toBe('content_block_stop')
    expect(final.content).toEqual(plain.content)
    expect(final.content).toEqual([{ type: 'text', text }])
    expect(final.stop_reason).toBe(plain.stop_reason)
    expect(final.usage.output_tokens).toBe(plain.usage.output_tokens)
    expect(final.id).toMatch(/^msg_/)
  })

  it('raw stream: `event:` lines match each data type; anthropic-version and anthropic-beta are accepted', async () => {
    // Claude Code adds ?beta=true.
    const res = await fetch(`${t.origin}/v1/messages?beta=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEY, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'interleaved-thinking-2025-05-14' },
      body: JSON.stringify({ model: MODEL, messages: CONVERSATION, max_tokens: 5, stream: true }),
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    expect(res.headers.get('request-id')).toBeTruthy()
    // Throws unless each event's name repeats its payload's type.
    const events = parseTypedEvents(await res.text()).filter((e) => e.type !== 'ping')
    expect(events[0]!.message).toMatchObject({ content: [], stop_reason: null, usage: { output_tokens: 0 } })
    expect(events.at(-2)!).toMatchObject({ delta: { stop_reason: expect.any(String) }, usage: { output_tokens: expect.any(Number) } })
  })

  it('tool_choice tool: one tool_use of that tool, its input valid against input_schema', async () => {
    const message = await client.messages.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [WEATHER, ALARM],
      tool_choice: { type: 'tool', name: 'set_alarm' },
      max_tokens: 200,
    })
    expect(message.stop_reason).toBe('tool_use')
    const uses = message.content.filter((b) => b.type === 'tool_use')
    expect(uses).toHaveLength(1)
    expectValidToolUse(uses[0], ['set_alarm'])
  })

  it('tool_choice any (streamed): tool_use blocks with valid input; input_json_delta adds up to the final input', async () => {
    const stream = client.messages.stream({
      model: MODEL,
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [WEATHER, ALARM],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
      max_tokens: 200,
    })
    const partial = new Map<number, string>()
    for await (const event of stream) {
      if (event.type === 'content_block_delta' && event.delta.type === 'input_json_delta') {
        partial.set(event.index, (partial.get(event.index) ?? '') + event.delta.partial_json)
      }
    }
    const final = await stream.finalMessage()
    expect(final.stop_reason).toBe('tool_use')
    const uses = final.content.map((b, i) => [b, i] as const).filter(([b]) => b.type === 'tool_use')
    expect(uses).toHaveLength(1)
    const [block, index] = uses[0]!
    const use = expectValidToolUse(block, ['get_weather', 'set_alarm'])
    expect(JSON.parse(partial.get(index)!)).toEqual(use.input)
  })

  it('a tool_result round trip: the call and its result (also is_error) go back in and the model answers', async () => {
    const first = await client.messages.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [WEATHER],
      tool_choice: { type: 'tool', name: 'get_weather' },
      max_tokens: 200,
    })
    const use = expectValidToolUse(first.content.find((b) => b.type === 'tool_use'), ['get_weather'])
    for (const is_error of [false, true]) {
      const messages: Anthropic.MessageParam[] = [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: [{ type: 'text', text: 'Sunny, 21 C' }], is_error }] },
      ]
      const answer = await client.messages.create({ model: MODEL, messages, tools: [WEATHER], tool_choice: { type: 'none' }, max_tokens: 4 })
      expect(answer.content.every((b) => b.type === 'text')).toBe(true)
      expect(answer.usage.output_tokens).toBeGreaterThan(0)
      const counted = await client.messages.countTokens({ model: MODEL, messages, tools: [WEATHER] })
      expect(answer.usage.input_tokens + answer.usage.cache_read_input_tokens!).toBe(counted.input_tokens)
    }
  })

  it('the same conversation renders the same prompt through chat completions and through messages', async () => {
    const chat = await postJson(
      t.origin,
      '/v1/chat/completions',
      {
        model: 'tiny-hermes',
        max_tokens: 1,
        tools: [{ type: 'function', function: { name: WEATHER.name, description: WEATHER.description, parameters: WEATHER.input_schema } }],
        messages: [
          { role: 'system', content: SYSTEM },
          { role: 'user', content: 'Weather in Paris?' },
          { role: 'assistant', content: 'Checking.', tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"c"}' } }] },
          { role: 'tool', tool_call_id: 'toolu_1', content: 'Sunny' },
          { role: 'user', content: 'Thanks. And Rome?' },
        ],
      },
      { authorization: `Bearer ${KEY}` },
    )
    expect(chat.status, chat.text).toBe(200)
    const { input_tokens } = await client.messages.countTokens({
      model: MODEL,
      system: SYSTEM,
      tools: [WEATHER],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Checking.' },
            { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris', unit: 'c' } },
          ],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'Sunny' }, { type: 'text', text: 'Thanks. And Rome?' }] },
      ],
    })
    expect(input_tokens).toBe(chat.json.usage.prompt_tokens)
  })

  it('a trailing assistant turn is continued (prefill)', async () => {
    const prefill = 'The colour is'
    const counted = await client.messages.countTokens({ model: MODEL, messages: [...CONVERSATION, { role: 'assistant', content: prefill }] })
    const answered = await client.messages.countTokens({ model: MODEL, messages: CONVERSATION })
    // The assistant header is in both; the prefill adds its words and no end-of-turn.
    expect(counted.input_tokens).toBeGreaterThan(answered.input_tokens)
    const message = await client.messages.create({ model: MODEL, messages: [...CONVERSATION, { role: 'assistant', content: prefill }], max_tokens: 3 })
    expect(message.usage.input_tokens + message.usage.cache_read_input_tokens!).toBe(counted.input_tokens)
  })
})

describe('errors on /v1/messages: Anthropic’s envelope and statuses', () => {
  async function raw(body: unknown, headers: Record<string, string> = { 'x-api-key': KEY }, path = '/v1/messages') {
    const res = await postJson(t.origin, path, body, headers)
    expect(res.json, res.text).toMatchObject({ type: 'error', error: { type: expect.any(String), message: expect.any(String) }, request_id: res.headers.get('request-id') })
    expect(Object.keys(res.json).sort()).toEqual(['error', 'request_id', 'type'])
    return res
  }

  it('400 invalid_request_error: missing max_tokens, image blocks and server tools are named', async () => {
    const missing = await client.messages.create({ model: MODEL, messages: CONVERSATION } as never).catch((e: unknown) => e)
    expect(missing).toBeInstanceOf(BadRequestError)
    expect((missing as APIError).error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('max_tokens') } })

    const image = await raw({ model: MODEL, max_tokens: 4, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AA==' } }] }] })
    expect(image.status).toBe(400)
    expect(image.json.error).toMatchObject({ type: 'invalid_request_error', message: expect.stringMatching(/messages\[0\]\.content\[0\].*'image'/) })

    const search = await raw({ model: MODEL, max_tokens: 4, messages: CONVERSATION, tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 3 }] })
    expect(search.status).toBe(400)
    expect(search.json.error.message).toMatch(/web_search_20250305/)

    const badJson = await raw('{"model": ', { 'x-api-key': KEY })
    expect(badJson.status).toBe(400)
  })

  it('a prompt over the context is a 400 in Anthropic’s words (clients compact on them)', async () => {
    const long = await raw({ model: MODEL, max_tokens: 4, messages: [{ role: 'user', content: 'many words '.repeat(3000) }] })
    expect(long.status).toBe(400)
    expect(long.json.error).toMatchObject({ type: 'invalid_request_error', message: expect.stringMatching(/^prompt is too long: .*2048 tokens/) })
  })

  it('401 authentication_error for a wrong key; x-api-key and Bearer both authenticate', async () => {
    const wrong = new Anthropic({ baseURL: t.origin, apiKey: 'nope', maxRetries: 0 })
    const error = await wrong.messages.create({ model: MODEL, messages: CONVERSATION, max_tokens: 1 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AuthenticationError)
    expect((error as APIError).error).toMatchObject({ type: 'error', error: { type: 'authentication_error' } })
    expect((await raw({ model: MODEL, messages: CONVERSATION, max_tokens: 1 }, {})).status).toBe(401)

    const bearer = new Anthropic({ baseURL: t.origin, authToken: KEY, apiKey: null, maxRetries: 0 })
    expect((await bearer.messages.countTokens({ model: MODEL, messages: CONVERSATION })).input_tokens).toBeGreaterThan(0)
  })

  it('404 not_found_error for a model no id or alias matches', async () => {
    const error = await client.messages.create({ model: 'gpt-4o', messages: CONVERSATION, max_tokens: 1 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(NotFoundError)
    expect((error as APIError).error).toMatchObject({ error: { type: 'not_found_error', message: expect.stringContaining('gpt-4o') } })
  })

  it('413 request_too_large for a body over the limit', async () => {
    const huge = await raw({ model: MODEL, max_tokens: 1, messages: [{ role: 'user', content: 'x'.repeat(9 * 1024 * 1024) }] })
    expect(huge.status).toBe(413)
    expect(huge.json.error.type).toBe('request_too_large')
  })

  it('errors on count_tokens too', async () => {
    const res = await raw({ model: MODEL, messages: [{ role: 'user', content: [{ type: 'document', source: {} }] }] }, { 'x-api-key': KEY }, '/v1/messages/count_tokens')
    expect(res.status).toBe(400)
  })

  it('the chat routes keep OpenAI’s envelope', async () => {
    const res = await postJson(t.origin, '/v1/chat/completions', { model: 'nope', messages: CONVERSATION }, { authorization: `Bearer ${KEY}` })
    expect(res.json.error).toMatchObject({ type: 'invalid_request_error', code: 'model_not_found' })
  })
})

describe('models named by an alias pattern', () => {
  it('GET /v1/models/{name} finds the model a pattern alias routes the name to, as requests do', async () => {
    const headers = { authorization: `Bearer ${KEY}` }
    const found = await fetch(`${t.origin}/v1/models/${MODEL}`, { headers })
    expect(found.status).toBe(200)
    expect(((await found.json()) as { id: string }).id).toBe('tiny-hermes')
    expect((await fetch(`${t.origin}/v1/models/gpt-4o`, { headers })).status).toBe(404)
  })
})

describe('the Messages routes in the API description and metrics', () => {
  it('OpenAPI lists both routes; metrics count them by route', async () => {
    const spec = (await (await fetch(`${t.origin}/openapi.json`)).json()) as { paths: Record<string, unknown> }
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/v1/messages', '/v1/messages/count_tokens']))
    const metrics = await (await fetch(`${t.origin}/metrics`)).text()
    expect(metrics).toMatch(/gguf_serve_http_requests_total\{route="\/v1\/messages",status="200"\} [1-9]/)
    expect(metrics).toMatch(/gguf_serve_http_requests_total\{route="\/v1\/messages",status="401"\} [1-9]/)
  })
})

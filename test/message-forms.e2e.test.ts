import Anthropic, { BadRequestError, type APIError } from '@anthropic-ai/sdk'
import { zodOutputFormat } from '@anthropic-ai/sdk/helpers/zod'
import { Ajv } from 'ajv'
import OpenAI, { BadRequestError as OpenAIBadRequestError } from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { HERMES_MODEL_PATH, THINKING_MODEL_PATH } from './helpers/models.js'
import { postJson, startTestServer, type TestServer } from './helpers/test-server.js'

/**
 * Request forms that used to be answered wrongly: Anthropic structured outputs (ignored with a 200), a system
 * role among Anthropic turns (accepted), chat's legacy function role, bare-string and thinking content parts
 * (refused) and `tools: []` (accepted). Official clients over real HTTP on tiny random models.
 */

let t: TestServer
let anthropic: Anthropic
let openai: OpenAI

beforeAll(async () => {
  t = await startTestServer({}, undefined, `
models:
  - id: tiny-hermes
    source: ${JSON.stringify(HERMES_MODEL_PATH)}
    aliases: ["claude-*"]
    threads: 1
    contextSize: 1024
    parallel: 2
  - id: tiny-thinking
    source: ${JSON.stringify(THINKING_MODEL_PATH)}
    threads: 1
    contextSize: 1024
    parallel: 1
`)
  anthropic = new Anthropic({ baseURL: t.origin, apiKey: 'unused', maxRetries: 0, timeout: 60_000 })
  openai = new OpenAI({ baseURL: `${t.origin}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60_000 })
})
afterAll(() => t?.close())

const MODEL = 'claude-sonnet-4-5-20250929'
const ASK: Anthropic.MessageParam[] = [{ role: 'user', content: 'Pick a colour, in JSON.' }]
// Every value is finite, so a random model can only finish by closing the object: validity is the grammar's doing.
const Pick = z.object({ colour: z.enum(['red', 'green', 'blue']), ok: z.boolean(), n: z.enum(['1', '22']) })
const ajv = new Ajv({ strict: false })

function jsonText(message: Anthropic.Message): unknown {
  expect(message.content.map((b) => b.type)).toEqual(['text'])
  return JSON.parse((message.content[0] as Anthropic.TextBlock).text)
}

describe('Anthropic structured outputs', () => {
  it('output_config.format: the text block is JSON valid against the schema (messages.parse, several draws)', async () => {
    const format = zodOutputFormat(Pick)
    const validate = ajv.compile(format.schema)
    const messages = await Promise.all(
      [0, 1, 2, 3].map(() => anthropic.messages.parse({ model: MODEL, messages: ASK, max_tokens: 200, temperature: 1, output_config: { format } })),
    )
    for (const message of messages) {
      expect(message.stop_reason).toBe('end_turn')
      const value = jsonText(message)
      expect(validate(value), JSON.stringify(value)).toBe(true)
      expect(message.parsed_output).toEqual(value)
    }
  })

  it('streamed: the text deltas add up to schema-valid JSON; the beta output_format is enforced alike', async () => {
    const schema = { type: 'object', properties: { ok: { type: 'boolean' }, tag: { enum: ['x', 'y'] } }, required: ['ok', 'tag'], additionalProperties: false }
    const validate = ajv.compile(schema)
    const stream = anthropic.messages.stream({ model: MODEL, messages: ASK, max_tokens: 200, output_config: { format: { type: 'json_schema', schema } } })
    let text = ''
    for await (const event of stream) if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text
    const final = await stream.finalMessage()
    expect(jsonText(final)).toEqual(JSON.parse(text))
    expect(validate(JSON.parse(text)), text).toBe(true)

    const beta = await anthropic.beta.messages.create({
      model: MODEL,
      messages: ASK,
      max_tokens: 200,
      output_format: { type: 'json_schema', schema },
      betas: ['structured-outputs-2025-11-13'],
    })
    expect(beta.stop_reason).toBe('end_turn')
    expect(validate(JSON.parse((beta.content[0] as Anthropic.TextBlock).text))).toBe(true)
  })

  it('is no longer an ignored parameter', async () => {
    const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false }
    const res = await postJson(t.origin, '/v1/messages', { model: MODEL, messages: ASK, max_tokens: 60, output_config: { format: { type: 'json_schema', schema } } })
    expect(res.status, res.text).toBe(200)
    expect(res.headers.get('x-ignored-params')).toBeNull()
    expect(typeof (JSON.parse(res.json.content[0].text) as { ok: unknown }).ok).toBe('boolean')
  })

  it('a keyword the grammar cannot enforce, or a format beside tool use, is a 400 in Anthropic’s shape naming the field', async () => {
    const refused = async (params: Record<string, unknown>) => {
      const error = await anthropic.messages.create({ model: MODEL, messages: ASK, max_tokens: 20, ...params } as never).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(BadRequestError)
      expect((error as APIError).error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } })
      return (error as APIError<400, Headers, { error: { message: string } }>).error!.error.message
    }
    const not = { type: 'object', properties: { a: { not: { type: 'string' } } }, required: ['a'] }
    expect(await refused({ output_config: { format: { type: 'json_schema', schema: not } } })).toMatch(/output_config\.format\.schema.*'not'/)
    expect(await refused({ output_format: { type: 'json_schema', schema: not } })).toMatch(/output_format\.schema/)
    const tool = { name: 'f', input_schema: { type: 'object', properties: {} } }
    const format = { type: 'json_schema', schema: { type: 'object', properties: { ok: { type: 'boolean' } } } }
    expect(await refused({ output_config: { format }, tools: [tool], tool_choice: { type: 'any' } })).toMatch(/output_config\.format cannot be combined with tool use/)
  })
})

describe('Anthropic turns', () => {
  it('a system role among the messages is a 400 naming messages[i].role; the top-level system works', async () => {
    const error = await anthropic.messages
      .create({ model: MODEL, max_tokens: 4, messages: [{ role: 'system', content: 'Be brief.' } as never, ...ASK] })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(BadRequestError)
    expect((error as APIError).error).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringMatching(/^messages\[0\]\.role: .*"system"/) } })
    expect((await anthropic.messages.create({ model: MODEL, max_tokens: 2, system: 'Be brief.', messages: ASK })).type).toBe('message')
  })
})

describe('chat message forms (openai-node)', () => {
  const promptTokens = async (model: string, messages: unknown[]) =>
    (await openai.chat.completions.create({ model, messages: messages as OpenAI.ChatCompletionMessageParam[], max_tokens: 1 })).usage!.prompt_tokens
  const call = { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }
  const question = { role: 'user', content: 'Weather in Paris?' }

  it('the legacy function role renders as the tool result of the call of that name', async () => {
    const legacy = await promptTokens('tiny-hermes', [question, { role: 'assistant', content: null, tool_calls: [call] }, { role: 'function', name: 'get_weather', content: 'Sunny' }])
    const tool = await promptTokens('tiny-hermes', [question, { role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: 'call_1', name: 'get_weather', content: 'Sunny' }])
    expect(legacy).toBe(tool)
  })

  it('bare strings in a content array are text parts', async () => {
    const bare = await promptTokens('tiny-hermes', [{ role: 'user', content: ['Weather', { type: 'text', text: 'in Paris?' }] }])
    expect(bare).toBe(await promptTokens('tiny-hermes', [{ role: 'user', content: 'Weather\nin Paris?' }]))
  })

  it('thinking parts on an assistant message are its reasoning history, rendered as reasoning_content is', async () => {
    const history = (assistant: Record<string, unknown>) => [question, { role: 'assistant', ...assistant }, { role: 'user', content: 'And Rome?' }]
    const parts = await promptTokens('tiny-thinking', history({ content: [{ type: 'thinking', thinking: 'Look it up.' }, { type: 'text', text: 'Sunny.' }] }))
    expect(parts).toBe(await promptTokens('tiny-thinking', history({ content: 'Sunny.', reasoning_content: 'Look it up.' })))
    // This template shows earlier thoughts, so the thought is really in the prompt.
    expect(parts).toBeGreaterThan(await promptTokens('tiny-thinking', history({ content: 'Sunny.' })))
  })

  it('tools: [] is a 400 naming tools, as at OpenAI', async () => {
    const error = await openai.chat.completions.create({ model: 'tiny-hermes', messages: [question as OpenAI.ChatCompletionUserMessageParam], tools: [], max_tokens: 1 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OpenAIBadRequestError)
    expect((error as OpenAIBadRequestError).param).toBe('tools')
  })
})

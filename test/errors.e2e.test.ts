import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { postJson, startTestServer, type TestServer } from './helpers/test-server.js'

let t: TestServer
const CONTEXT = 256
const user = (content: string) => [{ role: 'user', content }]

beforeAll(async () => {
  t = await startTestServer({ contextSize: String(CONTEXT), apiKey: ['sk-right', 'sk-other'] })
})
afterAll(() => t?.close())

const auth = { authorization: 'Bearer sk-right' }
const chat = (body: unknown, headers: Record<string, string> = auth) => postJson(t.origin, '/v1/chat/completions', body, headers)

function expectError(res: { status: number; json: any }, status: number, param: string | null, code?: string | null) {
  expect(res.status).toBe(status)
  expect(Object.keys(res.json)).toEqual(['error'])
  expect(Object.keys(res.json.error).sort()).toEqual(['code', 'message', 'param', 'type'])
  expect(typeof res.json.error.message).toBe('string')
  expect(res.json.error.message.length).toBeGreaterThan(10)
  expect(res.json.error.param).toBe(param)
  if (code !== undefined) expect(res.json.error.code).toBe(code)
}

describe('schema violations are 400 naming the param', () => {
  it.each([
    ['missing messages', { model: 'tiny-chat' }, 'messages'],
    ['empty messages', { messages: [] }, 'messages'],
    ['bad role', { messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role'],
    ['content of the wrong type', { messages: [{ role: 'user', content: 42 }] }, 'messages[0].content'],
    ['temperature as a string', { messages: user('x'), temperature: 'hot' }, 'temperature'],
    ['temperature out of range', { messages: user('x'), temperature: 4.5 }, 'temperature'],
    ['top_p above 1', { messages: user('x'), top_p: 1.5 }, 'top_p'],
    ['max_tokens of 0', { messages: user('x'), max_tokens: 0 }, 'max_tokens'],
    ['a boolean where an integer goes (no coercion)', { messages: user('x'), max_tokens: true }, 'max_tokens'],
    ['stream as a string', { messages: user('x'), stream: 'yes' }, 'stream'],
    ['an empty stop string', { messages: user('x'), stop: [''] }, 'stop[0]'],
    ['33 stop strings', { messages: user('x'), stop: Array.from({ length: 33 }, (_, i) => `s${i}`) }, 'stop'],
    ['seed as a float', { messages: user('x'), seed: 1.5 }, 'seed'],
  ])('%s', async (_name, body, param) => {
    expectError(await chat(body), 400, param)
    expect((await chat(body)).json.error.type).toBe('invalid_request_error')
  })

  it('an unsupported content part is refused by its type', async () => {
    const res = await chat({
      messages: [{ role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: 'data:' } }] }],
    })
    expectError(res, 400, 'messages[0].content[1].type')
    expect(res.json.error.message).toContain('image_url')
  })

  it('a parameter the server cannot honour yet is refused, not ignored', async () => {
    expectError(await chat({ messages: user('x'), chat_template: '{% if %}' }), 400, 'chat_template')
    // A template sent by a client is a program: refused unless the server trusts its clients.
    const template = await chat({ messages: user('x'), chat_template: '{% for i in range(100000000) %}x{% endfor %}', max_tokens: 1 })
    expectError(template, 400, 'chat_template')
    expect(template.json.error.message).toMatch(/--trust-request-chat-template/)
    expectError(await postJson(t.origin, '/tokenize', { messages: user('x'), chat_template: '{{ 1 }}' }, auth), 400, 'chat_template')
    expectError(await chat({ messages: user('x'), tool_choice: 'required' }), 400, 'tool_choice')
    // Their no-op values pass.
    expect((await chat({ messages: user('x'), chat_template_kwargs: {}, max_tokens: 1 })).status).toBe(200)
    // An empty tool list is invalid at OpenAI too (leave `tools` out instead).
    expectError(await chat({ messages: user('x'), tools: [], max_tokens: 1 }), 400, 'tools')
  })

  it('unknown top-level fields are accepted and ignored; null means absent', async () => {
    const res = await chat({ messages: user('x'), max_tokens: 2, my_framework_field: { a: 1 }, temperature: null, stop: null })
    expect(res.status).toBe(200)
    expect(res.json.object).toBe('chat.completion')
  })

  it('a body that is not JSON is 400; one over the size limit is 413', async () => {
    expectError(await chat('{"messages": [', auth), 400, null)
    const notJson = await fetch(`${t.origin}/v1/chat/completions`, { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: 'hello' })
    expect(notJson.status).toBe(400)
    const huge = await chat({ messages: user('x'.repeat(9 * 1024 * 1024)) })
    expectError(huge, 413, null)
  })
})

describe('other errors', () => {
  it('a prompt longer than the context is 400 context_length_exceeded', async () => {
    const res = await chat({ messages: user('word '.repeat(CONTEXT)) })
    expectError(res, 400, 'messages', 'context_length_exceeded')
    expect(res.json.error.message).toContain(String(CONTEXT))
  })

  it('max_tokens beyond the context is clamped, ending with finish_reason length', async () => {
    const res = await chat({ messages: user('hi'), max_tokens: 100_000, temperature: 1, seed: 9 })
    expect(res.status).toBe(200)
    const { prompt_tokens, completion_tokens } = res.json.usage
    if (res.json.choices[0].finish_reason === 'length') expect(prompt_tokens + completion_tokens).toBe(CONTEXT)
    else expect(prompt_tokens + completion_tokens).toBeLessThan(CONTEXT)
  })

  it('an unknown model is 404 model_not_found', async () => {
    expectError(await chat({ model: 'gpt-4o', messages: user('x') }), 404, 'model', 'model_not_found')
  })

  it('an unknown path or method is 404 in the same envelope', async () => {
    const res = await fetch(`${t.origin}/v1/images/generations`, { method: 'POST', headers: auth })
    expectError({ status: res.status, json: await res.json() }, 404, null)
    const wrongMethod = await fetch(`${t.origin}/v1/chat/completions`, { headers: auth })
    expect(wrongMethod.status).toBe(404)
  })
})

describe('authentication', () => {
  it('requires a valid key, as Bearer or Api-Key', async () => {
    expectError(await chat({ messages: user('x'), max_tokens: 1 }, {}), 401, null, 'invalid_api_key')
    expectError(await chat({ messages: user('x'), max_tokens: 1 }, { authorization: 'Bearer sk-wrong' }), 401, null, 'invalid_api_key')
    expectError(await chat({ messages: user('x'), max_tokens: 1 }, { authorization: 'Basic sk-right' }), 401, null)
    expect((await chat({ messages: user('x'), max_tokens: 1 }, { authorization: 'Bearer sk-other' })).status).toBe(200)
    expect((await chat({ messages: user('x'), max_tokens: 1 }, { authorization: 'Api-Key sk-right' })).status).toBe(200)
    expect((await chat({ messages: user('x'), max_tokens: 1 }, { authorization: 'api-key sk-right' })).status).toBe(200)
  })

  it('the SDK raises AuthenticationError on a wrong key; /health stays open', async () => {
    const wrong = new OpenAI({ baseURL: `${t.origin}/v1`, apiKey: 'nope', maxRetries: 0 })
    await expect(wrong.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError)
    const right = new OpenAI({ baseURL: `${t.origin}/v1`, apiKey: 'sk-right', maxRetries: 0 })
    expect((await right.models.list()).data).toHaveLength(1)
    expect((await fetch(`${t.origin}/health`)).status).toBe(200)
  })
})

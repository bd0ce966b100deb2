import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { IM_END, SPM_VOCAB } from '../src/gguf/spm-vocab.js'
import { postJson, startTestServer, type TestServer } from './helpers/test-server.js'

let t: TestServer
const MODEL = 'tiny-chat'

beforeAll(async () => {
  t = await startTestServer({ trustRequestChatTemplate: true })
})
afterAll(() => t?.close())

const tokenize = async (body: object) => {
  const res = await postJson(t.origin, '/tokenize', { model: MODEL, ...body })
  expect(res.status, res.text).toBe(200)
  return res.json as { tokens: number[]; count: number; max_model_len: number; token_strs?: string[] }
}
const detokenize = async (tokens: number[], extra: object = {}) => {
  const res = await postJson(t.origin, '/detokenize', { model: MODEL, tokens, ...extra })
  expect(res.status, res.text).toBe(200)
  return res.json.prompt as string
}

describe('tokenize and detokenize', () => {
  it("round-trips multi-byte UTF-8, in vLLM's shape, with BOS by default", async () => {
    const text = 'héllo 😀 日本'
    const withBos = await tokenize({ prompt: text })
    expect(withBos.tokens[0]).toBe(SPM_VOCAB.bosId)
    expect(withBos.count).toBe(withBos.tokens.length)
    expect(withBos.max_model_len).toBe(1024)
    expect(withBos).not.toHaveProperty('token_strs')
    const plain = await tokenize({ prompt: text, add_special_tokens: false })
    expect(plain.tokens).toEqual(withBos.tokens.slice(1))
    expect(await detokenize(withBos.tokens)).toBe(text)
    expect(await detokenize(plain.tokens)).toBe(text)
  })

  it('tokenizes messages to exactly the prompt the chat endpoint evaluates', async () => {
    const messages = [
      { role: 'system' as const, content: 'You are terse.' },
      { role: 'user' as const, content: 'Hello there, how are you?' },
    ]
    const { count, tokens } = await tokenize({ messages })
    const chat = await t.client.chat.completions.create({ model: MODEL, messages, max_tokens: 1 })
    expect(count).toBe(chat.usage!.prompt_tokens)
    const rendered = await detokenize(tokens, { skip_special_tokens: false })
    expect(rendered).toContain(`Hello there, how are you?${IM_END}`)
    expect(rendered).toMatch(/assistant\n$/)
    // The chat template controls apply as in the chat endpoint.
    const open = await tokenize({ messages, add_generation_prompt: false })
    expect(await detokenize(open.tokens, { skip_special_tokens: false })).toMatch(new RegExp(`${IM_END}\n$`))
    const short = await tokenize({ messages, chat_template: '{{ messages[-1].content }}' })
    expect(await detokenize(short.tokens)).toBe('Hello there, how are you?')
  })

  it('special-token text becomes the special token; detokenize keeps it only when asked', async () => {
    expect((await tokenize({ prompt: IM_END, add_special_tokens: false })).tokens).toEqual([SPM_VOCAB.imEndId])
    expect(await detokenize([SPM_VOCAB.imEndId])).toBe('')
    expect(await detokenize([SPM_VOCAB.imEndId], { skip_special_tokens: false })).toBe(IM_END)
  })

  it("return_token_strs gives each token's text", async () => {
    const { tokens, token_strs } = await tokenize({ prompt: 'the dog ran home', return_token_strs: true })
    expect(token_strs).toHaveLength(tokens.length)
    expect(token_strs![0]).toBe('<s>')
    expect(token_strs!.slice(1).join('')).toBe(' the dog ran home')
  })

  it('ids outside the vocabulary are a 400 naming tokens', async () => {
    for (const tokens of [[5, SPM_VOCAB.tokens.length], [-1]]) {
      const res = await postJson(t.origin, '/detokenize', { tokens })
      expect(res.status).toBe(400)
      expect(res.json.error.param).toBe('tokens')
    }
  })

  it('needs exactly one of prompt and messages; add_special_tokens is for prompt only', async () => {
    const cases: Array<[object, string]> = [
      [{}, 'prompt'],
      [{ prompt: 'hi', messages: [{ role: 'user', content: 'hi' }] }, 'messages'],
      [{ messages: [{ role: 'user', content: 'hi' }], add_special_tokens: true }, 'add_special_tokens'],
      [{ messages: [{ role: 'user', content: 'hi' }], continue_final_message: true }, 'continue_final_message'],
    ]
    for (const [body, param] of cases) {
      const res = await postJson(t.origin, '/tokenize', body)
      expect(res.status, JSON.stringify(body)).toBe(400)
      expect(res.json.error.param).toBe(param)
    }
  })

  it('is served under every base path', async () => {
    for (const prefix of ['', '/v1', '/v1/openai']) {
      const res = await postJson(t.origin, `${prefix}/tokenize`, { prompt: 'hi' })
      expect(res.status).toBe(200)
      expect((await postJson(t.origin, `${prefix}/detokenize`, { tokens: res.json.tokens })).json.prompt).toBe('hi')
    }
  })
})

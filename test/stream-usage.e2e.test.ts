import type OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sseEvents } from './helpers/sse.js'
import { postJson, startTestServer, type TestServer } from './helpers/test-server.js'
import { collect } from './helpers/async.js'

/** `stream_options` over real HTTP (api-surface §3.5, §6.7): `{}` means include_usage, continuous_usage_stats gives running totals. */
let t: TestServer
beforeAll(async () => {
  t = await startTestServer()
})
afterAll(() => t?.close())

const MAX_TOKENS = 6
const CHAT = { model: 'tiny-chat', messages: [{ role: 'user' as const, content: 'Count with me' }], max_tokens: MAX_TOKENS, ignore_eos: true }
const COMPLETION = { model: 'tiny-chat', prompt: 'Once upon a time', max_tokens: MAX_TOKENS, ignore_eos: true }

type Usage = OpenAI.CompletionUsage
interface AnyChunk {
  choices: unknown[]
  usage?: Usage | null
}

/** OpenAI's include_usage shape: usage null on every chunk, then one `choices: []` chunk with the totals. */
function expectTrailingUsage(chunks: AnyChunk[]): Usage {
  const last = chunks.at(-1)!
  expect(last.choices).toEqual([])
  expect(last.usage).toMatchObject({ completion_tokens: MAX_TOKENS, total_tokens: last.usage!.prompt_tokens + MAX_TOKENS })
  for (const chunk of chunks.slice(0, -1)) expect(chunk.usage).toBeNull()
  return last.usage!
}

/** Running totals on every chunk: the prompt throughout, completion tokens never going down, ending at the totals. */
function expectRunningUsage(chunks: AnyChunk[]): void {
  const usages = chunks.map((c) => c.usage)
  for (const usage of usages) {
    expect(usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number) })
    expect(usage!.total_tokens).toBe(usage!.prompt_tokens + usage!.completion_tokens)
    expect(usage!.prompt_tokens).toBe(usages[0]!.prompt_tokens)
  }
  expect(usages[0]!.prompt_tokens).toBeGreaterThan(0)
  const counts = usages.map((u) => u!.completion_tokens)
  expect(counts).toEqual([...counts].sort((a, b) => a - b))
  expect(new Set(counts).size).toBeGreaterThan(2) // it moved while the text streamed, not only at the end
  expect(counts.at(-1)).toBe(MAX_TOKENS)
}

describe('stream_options: {} means include_usage: true', () => {
  it('chat: a trailing choices: [] chunk carries the usage (openai client)', async () => {
    const chunks = await collect(await t.client.chat.completions.create({ ...CHAT, stream: true, stream_options: {} }))
    expectTrailingUsage(chunks)
  })

  it('completions: a trailing choices: [] chunk carries the usage (raw SSE)', async () => {
    const res = await postJson(t.origin, '/v1/completions', { ...COMPLETION, stream: true, stream_options: {} })
    expect(res.status).toBe(200)
    const events = sseEvents(res.text)
    expect(events.at(-1)).toBe('[DONE]')
    expectTrailingUsage(events.slice(0, -1))
  })

  it('include_usage: false still means no trailing chunk: usage rides on the finishing chunk', async () => {
    const chunks: AnyChunk[] = await collect(await t.client.chat.completions.create({ ...CHAT, stream: true, stream_options: { include_usage: false } }))
    expect(chunks.at(-1)!.choices).toHaveLength(1)
    expect(chunks.at(-1)!.usage).toMatchObject({ completion_tokens: MAX_TOKENS })
  })
})

describe('stream_options.continuous_usage_stats: running totals on every chunk', () => {
  it('chat: every chunk carries the totals so far, and the trailing chunk the final ones (openai client)', async () => {
    const options = { include_usage: true, continuous_usage_stats: true } as OpenAI.ChatCompletionStreamOptions
    const chunks = await collect(await t.client.chat.completions.create({ ...CHAT, stream: true, stream_options: options }))
    expectRunningUsage(chunks)
    expect(chunks[0]!.usage!.completion_tokens).toBe(0) // the role chunk, before any token
    expect(chunks.at(-1)!.choices).toEqual([])
    expect(chunks.filter((c) => c.choices.length === 0)).toHaveLength(1)
  })

  it('completions: every chunk carries the totals so far; with include_usage: false the finishing chunk ends them (raw SSE)', async () => {
    const res = await postJson(t.origin, '/v1/completions', { ...COMPLETION, stream: true, stream_options: { include_usage: false, continuous_usage_stats: true } })
    expect(res.status).toBe(200)
    const chunks = sseEvents(res.text).slice(0, -1) as AnyChunk[]
    expectRunningUsage(chunks)
    expect(chunks.every((c) => c.choices.length === 1)).toBe(true)
  })

  it('a request that does not stream ignores stream_options', async () => {
    const res = await postJson(t.origin, '/v1/chat/completions', { ...CHAT, stream: false, stream_options: { continuous_usage_stats: true } })
    expect(res.status).toBe(200)
    expect(res.json.usage).toMatchObject({ completion_tokens: MAX_TOKENS })
  })
})

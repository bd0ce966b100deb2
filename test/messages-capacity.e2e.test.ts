import Anthropic, { OverloadedError, type APIError } from '@anthropic-ai/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TINY_MODEL_PATH } from './helpers/models.js'
import { postJson, startTestServer, type TestServer } from './helpers/test-server.js'
import { waitFor } from './helpers/async.js'

/** One slot and one queue place: queued requests get pings, a full queue is 529, a spent rate limit 429. */
let t: TestServer
const RATE_LIMIT = 12

beforeAll(async () => {
  t = await startTestServer({}, undefined, `
server:
  queueMax: 1
  streamPingMs: 100
  rateLimit: { max: ${RATE_LIMIT}, windowMs: 60000 }
models:
  - id: tiny
    source: ${JSON.stringify(TINY_MODEL_PATH)}
    aliases: ["claude-*"]
    threads: 1
    contextSize: 2048
    parallel: 1
`)
})
afterAll(() => t?.close())

const MESSAGE = { model: 'claude-haiku-4-5', max_tokens: 3, messages: [{ role: 'user', content: 'Hi' }] }

const health = async () => ((await (await fetch(`${t.origin}/health`)).json()) as { models: Array<{ slots_busy: number; queue: number }> }).models[0]!

describe('capacity on /v1/messages', () => {
  it('a queued stream gets ping events until it starts; meanwhile a full queue answers 529 overloaded_error', async () => {
    // A chat request that only ends when its client leaves holds the one slot.
    const holder = new AbortController()
    const held = fetch(`${t.origin}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny', messages: MESSAGE.messages, max_tokens: 1900, ignore_eos: true, stream: true }),
      signal: holder.signal,
    }).catch(() => null)
    await waitFor(async () => (await health()).slots_busy === 1)

    const queued = await fetch(`${t.origin}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...MESSAGE, stream: true }),
    })
    expect(queued.status).toBe(200)
    const reader = queued.body!.getReader()
    const decoder = new TextDecoder()
    let text = ''
    while (!text.includes('event: ping')) {
      const { value, done } = await reader.read()
      expect(done).toBe(false)
      text += decoder.decode(value, { stream: true })
    }
    expect(text).not.toContain('message_start')

    // It is waiting: one more finds the queue full.
    const refused = await postJson(t.origin, '/v1/messages', MESSAGE)
    expect(refused.status).toBe(529)
    expect(refused.json).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } })
    expect(refused.headers.get('retry-after')).toBe('1')
    const sdkError = await new Anthropic({ baseURL: t.origin, apiKey: 'x', maxRetries: 0 }).messages.create(MESSAGE as never).catch((e: unknown) => e)
    expect(sdkError).toBeInstanceOf(OverloadedError)
    expect((sdkError as APIError).error).toMatchObject({ error: { type: 'overloaded_error' } })

    holder.abort()
    await held
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      text += decoder.decode(value, { stream: true })
    }
    const events = [...text.matchAll(/^event: (.*)$/gm)].map((m) => m[1])
    const start = events.indexOf('message_start')
    expect(start).toBeGreaterThan(0)
    expect(events.slice(0, start).every((e) => e === 'ping')).toBe(true)
    expect(events.filter((e) => e !== 'ping').at(-1)).toBe('message_stop')
  })

  it('past the per-key rate limit: 429 rate_limit_error with Retry-After', async () => {
    let res = await postJson(t.origin, '/v1/messages/count_tokens', MESSAGE)
    for (let i = 0; i < RATE_LIMIT && res.status !== 429; i++) res = await postJson(t.origin, '/v1/messages/count_tokens', MESSAGE)
    expect(res.status).toBe(429)
    expect(res.json).toMatchObject({ type: 'error', error: { type: 'rate_limit_error', message: expect.stringContaining('Rate limit') } })
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
  })
})

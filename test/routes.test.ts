import type { FastifyInstance } from 'fastify'
import OpenAI from 'openai'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config/load-config.js'
import { ContextLengthExceededError, EngineError, InvalidRequestError, OverloadedError, RequestTimeoutError } from '../src/errors.js'
import { buildApp } from '../src/http/app.js'
import { createLogger } from '../src/observability/logger.js'
import { ServeMetrics } from '../src/observability/metrics.js'
import { FAKE_MODEL, FakeBackend, textScript } from './helpers/fake-backend.js'
import { sseEvents } from './helpers/sse.js'

/**
 * The middle ring: every route built by buildApp against a fake backend (scripted event streams), so
 * success, error mapping, streaming and cancellation are checked without a model.
 */

let backend: FakeBackend
let app: FastifyInstance

beforeEach(async () => {
  backend = new FakeBackend()
  const { config } = loadConfig({ flags: { model: ['/nonexistent/fake.gguf'] }, env: {} })
  app = await buildApp({ config, models: backend, log: createLogger('silent'), metrics: new ServeMetrics() })
})
afterEach(async () => {
  // Clients' keep-alive sockets would hold close() for the keep-alive timeout (the server proper closes idle ones itself).
  app.server.closeAllConnections()
  await app.close()
})

const chat = (extra: Record<string, unknown> = {}) => ({ model: FAKE_MODEL, messages: [{ role: 'user', content: 'hi' }], ...extra })
const post = (url: string, payload: unknown) => app.inject({ method: 'POST', url, payload: payload as object })

describe('POST /v1/chat/completions on a fake backend', () => {
  it('folds the events into one chat.completion, with the model defaults decoded in', async () => {
    const res = await post('/v1/chat/completions', chat())
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(body.choices[0]).toMatchObject({ message: { role: 'assistant', content: 'Hello world' }, finish_reason: 'stop' })
    expect(body.usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 })
    expect(body.system_fingerprint).toBe('fp_fake')
    expect(backend.submitted[0]).toMatchObject({ model: FAKE_MODEL, maxTokens: 16, input: { kind: 'chat' } })
  })

  it('streams chunks and [DONE], usage last when asked', async () => {
    const res = await post('/v1/chat/completions', chat({ stream: true, stream_options: { include_usage: true } }))
    expect(res.headers['content-type']).toMatch(/text\/event-stream/)
    const data = sseEvents(res.body)
    expect(data.at(-1)).toBe('[DONE]')
    const chunks = data.slice(0, -1)
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe('Hello world')
    expect(chunks.at(-1).usage).toMatchObject({ completion_tokens: 2 })
  })

  it('maps admission errors to their status and envelope: 429 with Retry-After, 400 with param', async () => {
    backend.script = { events: [], refuse: new OverloadedError(3) }
    const busy = await post('/v1/chat/completions', chat())
    expect(busy.statusCode).toBe(429)
    expect(busy.headers['retry-after']).toBe('3')
    expect(busy.json().error).toMatchObject({ type: 'rate_limit_error', code: 'queue_full' })

    backend.script = { events: [], refuse: new ContextLengthExceededError(900, 512, 'messages') }
    const long = await post('/v1/chat/completions', chat({ stream: true }))
    expect(long.statusCode).toBe(400)
    expect(long.json().error).toMatchObject({ param: 'messages', code: 'context_length_exceeded' })
  })

  it('a failure before the first event keeps its status even when streaming', async () => {
    backend.script = { events: [], fail: new RequestTimeoutError(1000, 'queued') }
    const res = await post('/v1/chat/completions', chat({ stream: true }))
    expect(res.statusCode).toBe(503)
    expect(res.json().error.code).toBe('timeout')
  })

  it('a failure mid-stream is one SSE error event, then the stream ends; internals stay in the log', async () => {
    const script = textScript(['Hel'])
    backend.script = { events: script.events.slice(0, 2), fail: new EngineError('Generation failed inside the engine.', new Error('secret detail')) }
    const res = await post('/v1/chat/completions', chat({ stream: true }))
    expect(res.statusCode).toBe(200)
    expect(sseEvents(res.body).at(-1).error).toMatchObject({ type: 'server_error', code: 'engine_error' })
    expect(res.body).not.toContain('secret detail')
    expect(res.body).not.toContain('[DONE]')
  })

  it('decoding errors name the wire field; unknown models are 404 model_not_found', async () => {
    const bad = await post('/v1/chat/completions', chat({ n: 9 }))
    expect(bad.statusCode).toBe(400)
    expect(bad.json().error.param).toBe('n')
    expect(backend.submitted).toHaveLength(0)
    const unknown = await post('/v1/chat/completions', chat({ model: 'nope' }))
    expect(unknown.statusCode).toBe(404)
    expect(unknown.json().error).toMatchObject({ param: 'model', code: 'model_not_found' })
  })

  it('a client that disconnects mid-stream aborts the request it submitted', async () => {
    backend.script = { ...textScript(['a']), hang: true }
    backend.script.events = backend.script.events.slice(0, 2)
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0 })
    const stream = await client.chat.completions.create({ model: FAKE_MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true })
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta?.content) break
    }
    await expect.poll(() => backend.signals[0]?.aborted, { timeout: 10_000 }).toBe(true)
  })
})

describe('POST /v1/completions on a fake backend', () => {
  it('one generation per prompt, choices numbered prompt × n', async () => {
    const res = await post('/v1/completions', { model: FAKE_MODEL, prompt: ['a', 'b'] })
    expect(res.statusCode).toBe(200)
    expect(res.json().choices.map((c: { index: number; text: string }) => [c.index, c.text])).toEqual([
      [0, 'Hello world'],
      [1, 'Hello world'],
    ])
    expect(backend.submitted.map((r) => r.input)).toEqual([
      { kind: 'text', text: 'a' },
      { kind: 'text', text: 'b' },
    ])
  })

  it('streams text_completion chunks; an admission error is its status', async () => {
    const res = await post('/v1/completions', { model: FAKE_MODEL, prompt: 'a', stream: true })
    const chunks = sseEvents(res.body).slice(0, -1)
    expect(chunks.map((c) => c.choices[0]?.text ?? '').join('')).toBe('Hello world')
    backend.script = { events: [], refuse: new InvalidRequestError('Token id 99999 in \'prompt\' is not in this model\'s vocabulary.', 'prompt') }
    const bad = await post('/v1/completions', { model: FAKE_MODEL, prompt: [99999] })
    expect(bad.statusCode).toBe(400)
    expect(bad.json().error.param).toBe('prompt')
  })
})

describe('POST /v1/embeddings on a fake backend', () => {
  it('answers floats or base64 and passes the decoded request on', async () => {
    const res = await post('/v1/embeddings', { model: 'fake-alias', input: ['ab', 'abc'], dimensions: 4 })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ model: 'fake-alias', usage: { prompt_tokens: 5 } })
    expect(res.json().data[1].embedding).toEqual([0, 0, 0, 1])
    expect(backend.embedded[0]).toEqual({ model: FAKE_MODEL, inputs: ['ab', 'abc'], dimensions: 4 })
    const base64 = await post('/v1/embeddings', { model: FAKE_MODEL, input: 'ab', encoding_format: 'base64' })
    expect(Buffer.from(base64.json().data[0].embedding, 'base64').readFloatLE(8)).toBe(1)
  })

  it('maps backend errors: 429 queue_full with Retry-After, 503 timeout', async () => {
    backend.workError = new OverloadedError(1)
    const busy = await post('/v1/embeddings', { model: FAKE_MODEL, input: 'a' })
    expect([busy.statusCode, busy.headers['retry-after'], busy.json().error.code]).toEqual([429, '1', 'queue_full'])
    backend.workError = new RequestTimeoutError(500, 'running')
    expect((await post('/v1/embeddings', { model: FAKE_MODEL, input: 'a' })).statusCode).toBe(503)
  })

  it('a client that disconnects cancels the embedding', async () => {
    backend.hangWork = true
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    const abort = new AbortController()
    const pending = fetch(`${url}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: FAKE_MODEL, input: 'a' }),
      signal: abort.signal,
    }).catch(() => null)
    await expect.poll(() => backend.signals.length, { timeout: 10_000 }).toBe(1)
    abort.abort()
    await pending
    await expect.poll(() => backend.signals[0]!.aborted, { timeout: 10_000 }).toBe(true)
  })
})

describe('POST /v1/tokenize and /v1/detokenize on a fake backend', () => {
  it('tokenize answers vLLM’s shape; detokenize turns ids back', async () => {
    const res = await post('/v1/tokenize', { model: FAKE_MODEL, prompt: 'hi', return_token_strs: true })
    expect(res.json()).toEqual({ count: 2, max_model_len: 512, tokens: [104, 105], token_strs: ['h', 'i'] })
    const back = await post('/v1/detokenize', { model: FAKE_MODEL, tokens: [104, 105] })
    expect(back.json()).toEqual({ prompt: 'hi' })
  })

  it('decoding errors are 400 with param; backend errors keep their status', async () => {
    const both = await post('/v1/tokenize', { model: FAKE_MODEL, prompt: 'hi', messages: [{ role: 'user', content: 'x' }] })
    expect([both.statusCode, both.json().error.param]).toEqual([400, 'messages'])
    backend.workError = new OverloadedError(2)
    const busy = await post('/v1/detokenize', { model: FAKE_MODEL, tokens: [1] })
    expect([busy.statusCode, busy.headers['retry-after']]).toEqual([429, '2'])
  })
})

describe('GET /v1/models, /health and /ui/models on a fake backend', () => {
  it('describe the backend’s models in each endpoint’s shape', async () => {
    const list = (await app.inject({ url: '/v1/models' })).json()
    expect(list.data[0]).toMatchObject({ id: FAKE_MODEL, object: 'model', context_length: 512, status: 'ready', aliases: ['fake-alias'] })
    expect((await app.inject({ url: '/v1/models/fake-alias' })).json().id).toBe(FAKE_MODEL)
    expect((await app.inject({ url: '/v1/models/nope' })).statusCode).toBe(404)
    const health = await app.inject({ url: '/health' })
    expect(health.json()).toEqual({ status: 'ok', models: [{ id: FAKE_MODEL, state: 'ready', slots_busy: 1, slots_total: 2, queue: 3 }] })
    backend.ready = false
    expect((await app.inject({ url: '/health' })).statusCode).toBe(503)
  })
})

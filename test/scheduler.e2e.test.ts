import { afterEach, describe, expect, it } from 'vitest'
import { SPM_VOCAB } from '../src/gguf/spm-vocab.js'
import { scrape, value, type Samples } from './helpers/prometheus.js'
import { postJson, startTestServer, type TestServer } from './helpers/test-server.js'
import { waitFor } from './helpers/async.js'

const MODEL = 'tiny-chat'
const servers: TestServer[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close()
})
async function serve(flags: Record<string, unknown>): Promise<TestServer> {
  const t = await startTestServer(flags)
  servers.push(t)
  return t
}
const messages = (content: string) => [{ role: 'user' as const, content }]
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A request that keeps a slot busy for a while: every token is sampled, none ends the reply. */
const long = (extra: Record<string, unknown> = {}) => ({
  model: MODEL,
  messages: messages('Keep going'),
  max_tokens: 800,
  ignore_eos: true,
  logprobs: true,
  top_logprobs: 20,
  ...extra,
})

async function streamText(t: TestServer, body: Record<string, unknown>): Promise<string> {
  const stream = await t.client.chat.completions.create({ ...body, model: MODEL, stream: true } as never)
  let text = ''
  for await (const chunk of stream as unknown as AsyncIterable<{ choices: Array<{ delta: { content?: string } }> }>) {
    text += chunk.choices[0]?.delta.content ?? ''
  }
  return text
}

describe('continuous batching', () => {
  it('8 concurrent seeded streams each give their solo output, decoded in shared batches', async () => {
    const t = await serve({ parallel: '8' })
    const body = (i: number) => ({ messages: messages(`Story number ${i}`), max_tokens: 40, temperature: 1, seed: 100 + i, ignore_eos: true })
    const solo: string[] = []
    for (let i = 0; i < 8; i++) solo.push(await streamText(t, body(i)))
    const before = await scrape(t.origin)
    const together = await Promise.all(Array.from({ length: 8 }, (_, i) => streamText(t, body(i))))
    const after = await scrape(t.origin)
    expect(together).toEqual(solo)
    // The engine's own batch counter: decode steps of 5–8 tokens (one per running request) must have happened.
    const wide = (s: typeof before) =>
      value(s, 'gguf_serve_engine_batch_tokens_bucket', { le: '8' }) - value(s, 'gguf_serve_engine_batch_tokens_bucket', { le: '4' })
    expect(wide(after) - wide(before)).toBeGreaterThanOrEqual(20)
  })
})

describe('prefix cache', () => {
  it('a second request with the same long prefix reuses it and evaluates fewer prompt tokens', async () => {
    const t = await serve({ parallel: '2' })
    const system = Array.from({ length: 12 }, (_, i) => `Fact ${i}: llamas hum when they are happy.`).join(' ')
    const ask = (q: string) => postJson(t.origin, '/v1/chat/completions', {
      model: MODEL,
      messages: [{ role: 'system', content: system }, ...messages(q)],
      max_tokens: 4,
    })
    const evaluatedBetween = (a: Samples, b: Samples) =>
      value(b, 'gguf_serve_prompt_tokens_evaluated_total') - value(a, 'gguf_serve_prompt_tokens_evaluated_total')
    // A prompt shorter than one prefill chunk is counted too (it is evaluated with the first sampling step).
    const start = await scrape(t.origin)
    const short = await postJson(t.origin, '/v1/chat/completions', { model: MODEL, messages: messages('Hi'), max_tokens: 2 })
    expect(evaluatedBetween(start, await scrape(t.origin))).toBe(short.json.usage.prompt_tokens)
    const first = await ask('Why do llamas hum?')
    const before = await scrape(t.origin)
    const second = await ask('When do llamas hum?')
    const after = await scrape(t.origin)
    const cached = second.json.usage.prompt_tokens_details.cached_tokens
    // The first shares only the template's opening tokens with the short request before it.
    expect(cached).toBeGreaterThan(first.json.usage.prompt_tokens_details.cached_tokens + 32)
    expect(evaluatedBetween(before, after)).toBe(second.json.usage.prompt_tokens - cached)
    expect(value(after, 'gguf_serve_prompt_tokens_cached_total') - value(before, 'gguf_serve_prompt_tokens_cached_total')).toBe(cached)
  })
})

describe('backpressure', () => {
  it('the (queueMax + parallel + 1)-th concurrent request gets 429 queue_full with Retry-After', async () => {
    const t = await serve({ parallel: '2', contextSize: '2048', queueMax: '2' })
    const held = Array.from({ length: 4 }, () => postJson(t.origin, '/v1/chat/completions', long()))
    await waitFor(async () => ((await (await fetch(`${t.origin}/health`)).json()) as any).models[0].queue === 2)
    const refused = await postJson(t.origin, '/v1/chat/completions', long({ max_tokens: 1 }))
    expect(refused.status).toBe(429)
    expect(refused.headers.get('retry-after')).toBe('1')
    expect(refused.json.error).toMatchObject({ type: 'rate_limit_error', code: 'queue_full' })
    expect(value(await scrape(t.origin), 'gguf_serve_queue_rejections_total')).toBe(1)
    for (const res of await Promise.all(held)) expect(res.status).toBe(200)
  })
})

describe('queue order', () => {
  it('admits a lower priority value first, FIFO among equals', async () => {
    const t = await serve({ parallel: '1', contextSize: '2048' })
    const running = postJson(t.origin, '/v1/chat/completions', long({ max_tokens: 300 }))
    await waitFor(async () => value(await scrape(t.origin), 'gguf_serve_slots_busy') === 1)
    const finished: string[] = []
    const queued = (name: string, priority: number) =>
      postJson(t.origin, '/v1/chat/completions', { model: MODEL, messages: messages(name), max_tokens: 2, priority }).then((res) => {
        expect(res.status).toBe(200)
        finished.push(name)
      })
    const all = [queued('late-low', 5)]
    await waitFor(async () => value(await scrape(t.origin), 'gguf_serve_requests_waiting') === 1)
    all.push(queued('urgent', -1))
    await waitFor(async () => value(await scrape(t.origin), 'gguf_serve_requests_waiting') === 2)
    all.push(queued('normal', 0))
    await waitFor(async () => value(await scrape(t.origin), 'gguf_serve_requests_waiting') === 3)
    await Promise.all([running, ...all])
    expect(finished).toEqual(['urgent', 'normal', 'late-low'])
  })
})

describe('cancellation', () => {
  it('aborting a stream mid-generation frees its slot and stops its tokens', async () => {
    const t = await serve({ parallel: '1', contextSize: '2048' })
    const abort = new AbortController()
    const stream = await t.client.chat.completions.create(long({ stream: true }) as never, { signal: abort.signal })
    let chunks = 0
    try {
      for await (const _ of stream as unknown as AsyncIterable<unknown>) if (++chunks === 5) abort.abort()
    } catch {
      // The SDK reports the abort.
    }
    await waitFor(async () => value(await scrape(t.origin), 'gguf_serve_cancellations_total', { stage: 'running' }) === 1)
    await waitFor(async () => value(await scrape(t.origin), 'gguf_serve_slots_busy') === 0)
    const stopped = value(await scrape(t.origin), 'gguf_serve_generation_tokens_total')
    await sleep(200)
    expect(value(await scrape(t.origin), 'gguf_serve_generation_tokens_total')).toBe(stopped)
    expect(stopped).toBeLessThan(800)
    // The freed slot serves the next request at once.
    const next = await postJson(t.origin, '/v1/chat/completions', { model: MODEL, messages: messages('next'), max_tokens: 3 })
    expect(next.status).toBe(200)
    expect(next.json.usage.completion_tokens).toBe(3)
  })

  it('a queued request whose client leaves never starts', async () => {
    const t = await serve({ parallel: '1', contextSize: '2048' })
    const running = postJson(t.origin, '/v1/chat/completions', long())
    await waitFor(async () => value(await scrape(t.origin), 'gguf_serve_slots_busy') === 1)
    const admittedBefore = value(await scrape(t.origin), 'gguf_serve_request_prompt_tokens_count')
    const abort = new AbortController()
    const queued = t.client.chat.completions.create({ model: MODEL, messages: messages('queued'), max_tokens: 5 }, { signal: abort.signal })
    await waitFor(async () => value(await scrape(t.origin), 'gguf_serve_requests_waiting') === 1)
    abort.abort()
    await expect(queued).rejects.toThrow()
    await waitFor(async () => value(await scrape(t.origin), 'gguf_serve_cancellations_total', { stage: 'queued' }) === 1)
    expect(value(await scrape(t.origin), 'gguf_serve_requests_waiting')).toBe(0)
    expect((await running).status).toBe(200)
    // Only the running request was ever admitted.
    expect(value(await scrape(t.origin), 'gguf_serve_request_prompt_tokens_count')).toBe(admittedBefore)
  })
})

describe('deadlines', () => {
  it('a running request past the deadline ends with length; one still queued at its deadline fails with 503 timeout', async () => {
    const t = await serve({ parallel: '1', contextSize: '2048', requestTimeoutMs: '400' })
    const running = postJson(t.origin, '/v1/chat/completions', long())
    await waitFor(async () => value(await scrape(t.origin), 'gguf_serve_slots_busy') === 1)
    // A few steps into `running`, so that `urgent` (sent later) still has steps left before its own deadline
    // once `running` ends at its deadline, however slow each step is on a loaded machine.
    await waitFor(async () => value(await scrape(t.origin), 'gguf_serve_generation_tokens_total') >= 5)
    const waiting = postJson(t.origin, '/v1/chat/completions', { model: MODEL, messages: messages('late'), max_tokens: 2 })
    await waitFor(async () => value(await scrape(t.origin), 'gguf_serve_requests_waiting') === 1)
    // Arriving later but going first (priority), `urgent` holds the slot past the deadline of `waiting`.
    const urgent = postJson(t.origin, '/v1/chat/completions', long({ priority: -1 }))
    const late = await waiting
    expect(late.status).toBe(503)
    expect(late.json.error.code).toBe('timeout')
    expect(late.headers.get('retry-after')).toBe('1')
    for (const res of [await running, await urgent]) {
      // `urgent` itself may meet its deadline still queued when a loaded machine is slow to free the slot:
      // then it is the same 503 timeout, which the count below includes.
      if (res === (await urgent) && res.status === 503) {
        expect(res.json.error.code).toBe('timeout')
        continue
      }
      expect(res.status).toBe(200)
      expect(res.json.choices[0].finish_reason).toBe('length')
      expect(res.json.usage.completion_tokens).toBeLessThan(800)
    }
    const timedOut = 1 + ((await urgent).status === 503 ? 1 : 0)
    expect(value(await scrape(t.origin), 'gguf_serve_requests_total', { outcome: 'timeout' })).toBe(timedOut)
  })
})

describe('metrics and health', () => {
  it('/metrics is Prometheus text whose counters and histograms move with traffic; /health shows busy slots', async () => {
    const t = await serve({ parallel: '2', contextSize: '2048' })
    const before = await scrape(t.origin)
    expect(value(before, 'gguf_serve_slots_total', { model: MODEL })).toBe(2)
    const running = postJson(t.origin, '/v1/chat/completions', long({ max_tokens: 600 }))
    await waitFor(async () => ((await (await fetch(`${t.origin}/health`)).json()) as any).models[0].slots_busy === 1)
    await running
    const res = await postJson(t.origin, '/v1/chat/completions', {
      model: MODEL,
      messages: messages('count me'),
      max_tokens: 6,
      ignore_eos: true,
      logit_bias: { [SPM_VOCAB.imEndId]: 100 },
    })
    expect(res.json.usage.completion_tokens).toBe(6)
    const after = await scrape(t.origin)
    expect(value(after, 'gguf_serve_requests_total', { model: MODEL, outcome: 'length' }) - value(before, 'gguf_serve_requests_total', { outcome: 'length' })).toBe(2)
    expect(value(after, 'gguf_serve_generation_tokens_total') - value(before, 'gguf_serve_generation_tokens_total')).toBe(606)
    expect(value(after, 'gguf_serve_time_to_first_token_seconds_count') - value(before, 'gguf_serve_time_to_first_token_seconds_count')).toBe(1)
    expect(value(after, 'gguf_serve_e2e_request_latency_seconds_count') - value(before, 'gguf_serve_e2e_request_latency_seconds_count')).toBe(2)
    expect(value(after, 'gguf_serve_inter_token_latency_seconds_count')).toBeGreaterThanOrEqual(599)
    expect(value(after, 'gguf_serve_queue_time_seconds_count')).toBe(2)
    expect(value(after, 'gguf_serve_kv_cache_tokens')).toBeGreaterThan(0)
    expect(value(after, 'gguf_serve_http_requests_total', { route: '/v1/chat/completions', status: '200' })).toBe(2)
  })
})

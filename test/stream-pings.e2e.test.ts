import OpenAI, { RateLimitError } from 'openai'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { TINY_MODEL_PATH } from './helpers/models.js'
import { postJson, startTestServer, type TestServer } from './helpers/test-server.js'
import { collect, waitFor } from './helpers/async.js'

/**
 * One slot and one queue place: a streamed chat, completions or responses request queued behind a busy slot gets
 * its headers and `: ping` comments before its first event, the SDK still reads the same events, and errors
 * found before the first byte (queue full, prompt too long) keep their JSON status.
 */
let t: TestServer

beforeAll(async () => {
  t = await startTestServer({}, undefined, `
server:
  queueMax: 1
  streamPingMs: 100
models:
  - id: tiny
    source: ${JSON.stringify(TINY_MODEL_PATH)}
    threads: 1
    contextSize: 2048
    parallel: 1
`)
})
afterAll(() => t?.close())

const MESSAGES = [{ role: 'user' as const, content: 'Hi' }]
const health = async () => ((await (await fetch(`${t.origin}/health`)).json()) as { models: Array<{ slots_busy: number; queue: number }> }).models[0]!

let holder: AbortController | null = null
let held: Promise<unknown> = Promise.resolve()

/** A chat stream that only ends when its client leaves holds the one slot. */
async function holdSlot(): Promise<void> {
  holder = new AbortController()
  held = fetch(`${t.origin}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'tiny', messages: MESSAGES, max_tokens: 1900, ignore_eos: true, stream: true }),
    signal: holder.signal,
  }).then((r) => r.text()).catch(() => null)
  await waitFor(async () => (await health()).slots_busy === 1)
}

async function releaseSlot(): Promise<void> {
  holder?.abort()
  holder = null
  await held
}

afterEach(async () => {
  await releaseSlot()
  await waitFor(async () => {
    const h = await health()
    return h.slots_busy === 0 && h.queue === 0
  })
})

/** An SDK client whose responses' raw bytes are also recorded, as they arrive (the SDK hides comments). */
function recordingClient() {
  const recorded = { raw: '' }
  const client = new OpenAI({
    baseURL: `${t.origin}/v1`,
    apiKey: 'test',
    maxRetries: 0,
    fetch: async (input, init) => {
      const response = await fetch(input, init)
      if (!response.body) return response
      const [mine, theirs] = response.body.tee()
      void (async () => {
        const decoder = new TextDecoder()
        for await (const bytes of mine) recorded.raw += decoder.decode(bytes, { stream: true })
      })()
      return new Response(theirs, { status: response.status, statusText: response.statusText, headers: response.headers })
    },
  })
  return { client, recorded }
}

/** The stream's blocks: 'ping' for a `: ping` comment, else the parsed `data:` JSON (`[DONE]` left out). */
function blocks(raw: string): Array<'ping' | Record<string, unknown>> {
  return raw
    .split('\n\n')
    .filter((block) => block !== '')
    .flatMap((block): Array<'ping' | Record<string, unknown>> => {
      if (block === ': ping') return ['ping']
      const data = block.split('\n').find((line) => line.startsWith('data: '))!.slice('data: '.length)
      return data === '[DONE]' ? [] : [JSON.parse(data) as Record<string, unknown>]
    })
}

/**
 * While a stream waits in the one queue place, refusals found before the queue stay plain JSON: a streamed
 * request finds the queue full (429, Retry-After, SDK RateLimitError), and a prompt past the context is a 400.
 */
async function expectJsonRefusals(path: string, body: Record<string, unknown>, tooLong: Record<string, unknown>, viaSdk: () => Promise<unknown>): Promise<void> {
  const refused = await postJson(t.origin, path, { ...body, stream: true })
  expect(refused.status).toBe(429)
  expect(refused.headers.get('content-type')).toContain('application/json')
  expect(refused.headers.get('retry-after')).toBe('1')
  expect(refused.json).toMatchObject({ error: { type: 'rate_limit_error', code: 'queue_full' } })
  expect(await viaSdk().catch((e: unknown) => e)).toBeInstanceOf(RateLimitError)
  const long = await postJson(t.origin, path, { ...body, ...tooLong })
  expect(long.status).toBe(400)
  expect(long.json).toMatchObject({ error: { code: 'context_length_exceeded' } })
}

const LONG_PROMPT = 'hello world '.repeat(3000)

describe('keep-alive pings on OpenAI-style streams', () => {
  it('chat: a queued stream gets `: ping` before its first chunk; the SDK reads the same chunks; a full queue is 429 JSON', async () => {
    await holdSlot()
    const { client, recorded } = recordingClient()
    const request = { model: 'tiny', messages: MESSAGES, max_tokens: 4, temperature: 0, stream: true as const }
    const chunks = client.chat.completions.create(request).then(collect)
    await waitFor(() => recorded.raw.includes(': ping'))
    expect(recorded.raw.startsWith(': ping\n\n')).toBe(true)
    expect(recorded.raw).not.toContain('data:')

    await expectJsonRefusals('/v1/chat/completions', request, { messages: [{ role: 'user', content: LONG_PROMPT }] }, () =>
      t.client.chat.completions.create({ ...request, stream: false }),
    )

    await releaseSlot()
    const received = await chunks
    const sent = blocks(recorded.raw)
    const firstChunk = sent.findIndex((b) => b !== 'ping')
    expect(firstChunk).toBeGreaterThan(0)
    expect(sent.slice(firstChunk)).not.toContain('ping')
    expect(received).toEqual(sent.slice(firstChunk))
    expect(received[0]!.choices[0]!.delta.role).toBe('assistant')
    expect(received.at(-1)!.choices[0]!.finish_reason).not.toBeNull()
  })

  it('completions: a queued stream gets `: ping` before its first chunk; the SDK reads the same chunks; a full queue is 429 JSON', async () => {
    await holdSlot()
    const { client, recorded } = recordingClient()
    const request = { model: 'tiny', prompt: 'Once upon a time', max_tokens: 4, temperature: 0, stream: true as const }
    const chunks = client.completions.create(request).then(collect)
    await waitFor(() => recorded.raw.includes(': ping'))
    expect(recorded.raw.startsWith(': ping\n\n')).toBe(true)
    expect(recorded.raw).not.toContain('data:')

    await expectJsonRefusals('/v1/completions', request, { prompt: LONG_PROMPT }, () => t.client.completions.create({ ...request, stream: false }))

    await releaseSlot()
    const received = await chunks
    const sent = blocks(recorded.raw)
    const firstChunk = sent.findIndex((b) => b !== 'ping')
    expect(firstChunk).toBeGreaterThan(0)
    expect(received).toEqual(sent.slice(firstChunk))
    expect(received.at(-1)!.choices[0]!.finish_reason).not.toBeNull()
  })

  it('a client that leaves a queued stream while it gets pings withdraws it from the queue', async () => {
    await holdSlot()
    const leaving = new AbortController()
    const res = await fetch(`${t.origin}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny', messages: MESSAGES, max_tokens: 4, stream: true }),
      signal: leaving.signal,
    })
    expect(res.status).toBe(200)
    const reader = res.body!.getReader()
    const { value } = await reader.read()
    expect(new TextDecoder().decode(value)).toContain(': ping')
    expect((await health()).queue).toBe(1)
    leaving.abort()
    await waitFor(async () => (await health()).queue === 0)
    expect((await health()).slots_busy).toBe(1) // the holder still runs: the queued one left without ever starting
  })

  it('responses: a queued stream gets `: ping` comments before its output; sequence numbers stay 0, 1, 2…; a full queue is 429 JSON', async () => {
    await holdSlot()
    const { client, recorded } = recordingClient()
    const request = { model: 'tiny', input: 'Hi', max_output_tokens: 4, temperature: 0, stream: true as const, store: false }
    const events = client.responses.create(request).then(collect)
    await waitFor(() => recorded.raw.includes(': ping'))
    expect(recorded.raw).not.toContain('response.output_item.added')

    await expectJsonRefusals('/v1/responses', request, { input: LONG_PROMPT }, () => t.client.responses.create({ ...request, stream: false }))

    await releaseSlot()
    const received = await events
    const sent = blocks(recorded.raw)
    const firstOutput = sent.findIndex((b) => b !== 'ping' && b.type === 'response.output_item.added')
    expect(sent.slice(0, firstOutput)).toContain('ping')
    expect(received).toEqual(sent.filter((b) => b !== 'ping'))
    expect(received.map((e) => e.sequence_number)).toEqual(received.map((_, i) => i))
    expect(received.at(-1)!.type).toBe('response.incomplete') // max_output_tokens reached
  })
})

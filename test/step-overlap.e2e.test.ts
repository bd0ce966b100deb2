import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sseEvents } from './helpers/sse.js'
import { postJson, startTestServer, type TestServer } from './helpers/test-server.js'

/**
 * The step loop sends a step's events while the next step decodes. Streams must still come out whole and
 * in order: per choice, the role first, then every token's text, then its finish, then usage and [DONE];
 * a request that ends (max_tokens, cancel) must not hold the others back or lose their tokens.
 */
let t: TestServer
const MODEL = 'tiny-chat'
const body = (content: string, extra: Record<string, unknown>) => ({
  model: MODEL,
  messages: [{ role: 'user', content }],
  temperature: 1,
  ignore_eos: true,
  stream: true,
  stream_options: { include_usage: true },
  ...extra,
})

beforeAll(async () => {
  t = await startTestServer({ parallel: '6' })
})
afterAll(() => t?.close())

interface Chunk {
  choices: Array<{ index: number; delta: { role?: string; content?: string }; finish_reason: string | null; logprobs?: { content: unknown[] } }>
  usage: { completion_tokens: number } | null
}

/** Checks one stream's order and returns its text per choice. */
function checkOrder(text: string, choices: number, tokensPerChoice: number): string[] {
  const events = sseEvents(text)
  expect(events.at(-1)).toBe('[DONE]')
  const chunks = events.slice(0, -1) as Chunk[]
  const usage = chunks.at(-1)!
  expect(usage.choices).toEqual([])
  expect(usage.usage!.completion_tokens).toBe(choices * tokensPerChoice)
  const texts: string[] = []
  for (let choice = 0; choice < choices; choice++) {
    const own = chunks.slice(0, -1).flatMap((c) => c.choices.filter((ch) => ch.index === choice))
    expect(own[0]!.delta.role).toBe('assistant')
    const finish = own.findIndex((ch) => ch.finish_reason !== null)
    expect(finish).toBe(own.length - 1)
    expect(own[finish]!.finish_reason).toBe('length')
    const tokens = own.slice(1, finish).reduce((sum, ch) => sum + (ch.logprobs?.content.length ?? 0), 0)
    expect(tokens).toBe(tokensPerChoice)
    texts.push(own.map((ch) => ch.delta.content ?? '').join(''))
  }
  return texts
}

describe('events sent while the next step decodes', () => {
  it('concurrent streams of different lengths and n > 1 each arrive whole and in order', async () => {
    // logprobs count the tokens of each content chunk; temperature 0 keeps the text independent of seeds.
    const shapes = [
      { n: 1, max_tokens: 5 },
      { n: 1, max_tokens: 17 },
      { n: 2, max_tokens: 11 },
      { n: 1, max_tokens: 23 },
    ]
    const requests = shapes.map((shape, i) =>
      postJson(t.origin, '/v1/chat/completions', body(`Order ${i}`, { ...shape, temperature: 0, logprobs: true, top_logprobs: 0 })),
    )
    const results = await Promise.all(requests)
    results.forEach((res, i) => {
      expect(res.status, res.text).toBe(200)
      const texts = checkOrder(res.text, shapes[i]!.n, shapes[i]!.max_tokens)
      if (shapes[i]!.n === 2) expect(texts[1]).toBe(texts[0]) // greedy: both choices alike
    })
  })

  it('a stream cancelled mid-generation stops; the others finish with every token', async () => {
    const abort = new AbortController()
    const cancelled = fetch(`${t.origin}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body('Cancel me', { max_tokens: 500 })),
      signal: abort.signal,
    }).then(async (res) => {
      const reader = res.body!.getReader()
      let chunks = 0
      while (!(await reader.read()).done) if (++chunks === 4) abort.abort()
    }).catch((error: Error) => error.name)
    const others = [0, 1, 2].map((i) => postJson(t.origin, '/v1/chat/completions', body(`Keep ${i}`, { max_tokens: 30, logprobs: true, top_logprobs: 0 })))
    expect(await cancelled).toBe('AbortError')
    for (const res of await Promise.all(others)) {
      expect(res.status).toBe(200)
      checkOrder(res.text, 1, 30)
    }
  })
})

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { STORIES_MODEL_PATH } from './helpers/models.js'
import { sseEvents } from './helpers/sse.js'
import { postJson, startTestServer, type TestServer } from './helpers/test-server.js'

let t: TestServer
const MODEL = 'tiny-chat'

beforeAll(async () => {
  t = await startTestServer({ parallel: '4' })
})
afterAll(() => t?.close())

describe('/v1/completions', () => {
  it("answers a string prompt in OpenAI's text_completion shape, without a chat template", async () => {
    const res = await t.client.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 8, temperature: 0 })
    expect(res.id).toMatch(/^cmpl-/)
    expect(res.object).toBe('text_completion')
    expect(res.choices).toHaveLength(1)
    expect(res.choices[0]!.text.length).toBeGreaterThan(0)
    expect(res.choices[0]!.finish_reason).toBe('length')
    expect(res.choices[0]!.logprobs).toBeNull()
    // No template: the prompt is just its tokens (BOS + 4 words in this vocabulary).
    expect(res.usage!.prompt_tokens).toBe(5)
    expect(res.usage!.completion_tokens).toBe(8)
    const again = await t.client.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 8, temperature: 0 })
    expect(again.choices[0]!.text).toBe(res.choices[0]!.text)
  })

  it('a batch of prompts gives one choice per prompt × n, in order, with usage summed', async () => {
    const single = async (prompt: string) =>
      (await t.client.completions.create({ model: MODEL, prompt, max_tokens: 5, temperature: 0 })).choices[0]!.text
    const [a, b] = [await single('Once upon'), await single('The little dog')]
    const res = await t.client.completions.create({ model: MODEL, prompt: ['Once upon', 'The little dog'], max_tokens: 5, temperature: 0, n: 2 })
    expect(res.choices.map((c) => c.index)).toEqual([0, 1, 2, 3])
    expect(res.choices.map((c) => c.text)).toEqual([a, a, b, b])
    expect(res.usage!.completion_tokens).toBe(20)
  })

  it('token-id prompts equal the same text tokenized', async () => {
    const tokenized = await postJson(t.origin, '/tokenize', { model: MODEL, prompt: 'Once upon a time' })
    expect(tokenized.status).toBe(200)
    const ids: number[] = tokenized.json.tokens
    const fromText = await t.client.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 6, temperature: 0 })
    const fromIds = await t.client.completions.create({ model: MODEL, prompt: ids, max_tokens: 6, temperature: 0 })
    const fromBatch = await t.client.completions.create({ model: MODEL, prompt: [ids, ids], max_tokens: 6, temperature: 0 })
    expect(fromIds.choices[0]!.text).toBe(fromText.choices[0]!.text)
    expect(fromBatch.choices.map((c) => c.text)).toEqual([fromText.choices[0]!.text, fromText.choices[0]!.text])
  })

  it('echo prepends the prompt; with logprobs it scores prompt and completion tokens in the legacy shape', async () => {
    const plain = await t.client.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 4, temperature: 0 })
    const echoed = await t.client.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 4, temperature: 0, echo: true })
    expect(echoed.choices[0]!.text).toBe(`Once upon a time${plain.choices[0]!.text}`)

    const scored = await t.client.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 4, temperature: 0, echo: true, logprobs: 3 })
    const { text } = scored.choices[0]!
    const lp = scored.choices[0]!.logprobs!
    expect(lp.tokens).toHaveLength(4 + 4) // the four prompt words (BOS is not echoed) and four new tokens
    expect(text).toBe(`Once upon a time${plain.choices[0]!.text}`)
    expectConsistentLogprobs(text, lp)
    // As in OpenAI and vLLM, the first prompt token has no logprob.
    expect(lp.token_logprobs![0]).toBeNull()
    expect(lp.top_logprobs![0]).toBeNull()
    lp.tokens!.forEach((_, i) => {
      if (i === 0) return
      expect(lp.token_logprobs![i]).toBeLessThanOrEqual(0)
      const top = lp.top_logprobs![i]!
      expect(Object.keys(top).length).toBeGreaterThan(0)
      expect(Object.keys(top).length).toBeLessThanOrEqual(3)
      // The best alternative is at least as likely as the token that stands there.
      expect(Math.max(...Object.values(top))).toBeGreaterThanOrEqual(lp.token_logprobs![i]! - 1e-9)
    })
    // Greedy: every generated token is the top alternative.
    for (let i = 4; i < 8; i++) expect(Math.max(...Object.values(lp.top_logprobs![i]!))).toBeCloseTo(lp.token_logprobs![i]!, 9)
  })

  it('echo returns string prompts exactly as sent and token-id prompts detokenized, streamed or not', async () => {
    await expectEchoes(t, MODEL, ['Once upon a time', ' Once upon', 'The little dog\n'])
  })

  it('streams text deltas that join to the non-streamed text; usage per the include_usage rules', async () => {
    const body = { model: MODEL, prompt: 'Once upon a time', max_tokens: 6, temperature: 0 }
    const whole = await t.client.completions.create(body)
    const plain = sseEvents((await postJson(t.origin, '/v1/completions', { ...body, stream: true })).text)
    expect(plain.at(-1)).toBe('[DONE]')
    const chunks = plain.slice(0, -1)
    expect(chunks.map((c) => c.choices[0].text).join('')).toBe(whole.choices[0]!.text)
    expect(chunks.at(-1).choices[0].finish_reason).toBe('length')
    expect(chunks.at(-1).usage.completion_tokens).toBe(6)
    for (const c of chunks) expect(c.object).toBe('text_completion')

    const stream = await t.client.completions.create({ ...body, stream: true, stream_options: { include_usage: true } })
    const received = []
    for await (const chunk of stream) received.push(chunk)
    expect(received.at(-1)!.choices).toEqual([])
    expect(received.at(-1)!.usage!.total_tokens).toBe(whole.usage!.total_tokens)
  })

  it('honours stop strings and the shared sampling controls', async () => {
    const whole = await t.client.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 12, temperature: 0 })
    const stop = whole.choices[0]!.text.slice(3, 7)
    const stopped = await t.client.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 12, temperature: 0, stop })
    expect(stopped.choices[0]!.text).toBe(whole.choices[0]!.text.slice(0, whole.choices[0]!.text.indexOf(stop)))
    expect(stopped.choices[0]!.finish_reason).toBe('stop')
  })

  it('refuses what it cannot do, naming the parameter', async () => {
    const bad = async (body: Record<string, unknown>, param: string) => {
      const res = await postJson(t.origin, '/v1/completions', { model: MODEL, max_tokens: 2, ...body })
      expect(res.status, res.text).toBe(400)
      expect(res.json.error.param).toBe(param)
    }
    await bad({ prompt: 'x', suffix: 'y' }, 'suffix') // this model has no fill-in-the-middle tokens
    await bad({ prompt: 'x', logprobs: 21 }, 'logprobs')
    await bad({ prompt: [] }, 'prompt')
    await bad({ prompt: [999999] }, 'prompt')
    await bad({}, 'prompt')
  })
})

describe.skipIf(STORIES_MODEL_PATH === null)('echo on a real trained model (stories260K, from ../shared/models)', () => {
  let real: TestServer
  beforeAll(async () => {
    real = await startTestServer({ model: [STORIES_MODEL_PATH!] })
  })
  afterAll(() => real?.close())

  it('returns the prompt as sent; logprobs tokens join to the text; the first prompt token has no logprob', async () => {
    await expectEchoes(real, 'stories260K', ['Once upon a time', 'Lily saw a big dog. She', ' The cat'])
  })
})

type Logprobs = { tokens?: string[]; token_logprobs?: Array<number | null>; text_offset?: number[] }

/** `tokens` join to `text`, and each `text_offset` is where its token stands in it. */
function expectConsistentLogprobs(text: string, lp: Logprobs) {
  expect(lp.tokens!.join('')).toBe(text)
  let offset = 0
  lp.tokens!.forEach((token, i) => {
    expect(lp.text_offset![i]).toBe(offset)
    offset += token.length
  })
}

/** For each prompt: echo with and without logprobs, streamed, and as token ids, all start with the prompt as sent. */
async function expectEchoes(server: TestServer, model: string, prompts: string[]) {
  for (const prompt of prompts) {
    const body = { model, prompt, max_tokens: 3, temperature: 0 }
    const plain = (await server.client.completions.create(body)).choices[0]!.text
    const echoed = await server.client.completions.create({ ...body, echo: true })
    expect(echoed.choices[0]!.text).toBe(prompt + plain)
    const scored = await server.client.completions.create({ ...body, echo: true, logprobs: 1 })
    expect(scored.choices[0]!.text).toBe(prompt + plain)
    expectConsistentLogprobs(scored.choices[0]!.text, scored.choices[0]!.logprobs!)
    expect(scored.choices[0]!.logprobs!.token_logprobs![0]).toBeNull()
    const streamed = sseEvents((await postJson(server.origin, '/v1/completions', { ...body, echo: true, stream: true })).text)
    expect(streamed.slice(0, -1).map((c) => c.choices[0]?.text ?? '').join('')).toBe(prompt + plain)
    // A token-id prompt echoes its detokenized text: the sent string again (SentencePiece's added space dropped).
    const ids: number[] = (await postJson(server.origin, '/tokenize', { model, prompt })).json.tokens
    const fromIds = await server.client.completions.create({ ...body, prompt: ids, echo: true, logprobs: 1 })
    expect(fromIds.choices[0]!.text).toBe(prompt + plain)
    expectConsistentLogprobs(fromIds.choices[0]!.text, fromIds.choices[0]!.logprobs!)
  }
}

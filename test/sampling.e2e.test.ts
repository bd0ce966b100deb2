import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SPM_VOCAB } from '../src/gguf/spm-vocab.js'
import { sseEvents } from './helpers/sse.js'
import { postJson, startTestServer, type TestServer } from './helpers/test-server.js'

let t: TestServer
const MODEL = 'tiny-chat'
const messages = (content: string) => [{ role: 'user' as const, content }]
/** The test model's end-of-turn token; its rows are zero, so only a bias can make the model emit it. */
const IM_END = SPM_VOCAB.imEndId

/** Token id of a generated token, from its exact bytes (SentencePiece pieces spell spaces as U+2581). */
const tokenId = (bytes: number[]) => SPM_VOCAB.tokens.indexOf(Buffer.from(bytes).toString('utf8').replaceAll(' ', '\u2581'))

beforeAll(async () => {
  t = await startTestServer({ parallel: '4' })
})
afterAll(() => t?.close())

async function chat(body: Record<string, unknown>) {
  const res = await postJson(t.origin, '/v1/chat/completions', { model: MODEL, messages: messages('Tell me a story'), ...body })
  expect(res.status, res.text).toBe(200)
  return res.json
}

/** Greedy tokens (ids) and text of the default prompt. */
async function greedyTokens(extra: Record<string, unknown> = {}) {
  const res = await chat({ temperature: 0, max_tokens: 16, logprobs: true, ...extra })
  const content = res.choices[0].logprobs.content as Array<{ bytes: number[] }>
  return { ids: content.map((c) => tokenId(c.bytes)), text: res.choices[0].message.content as string, res }
}

describe('logprobs', () => {
  it('are ≤ 0, with sorted top_logprobs of the requested length; greedy picks the top one', async () => {
    const res = await chat({ temperature: 0, max_tokens: 12, logprobs: true, top_logprobs: 5 })
    const content = res.choices[0].logprobs.content
    expect(content).toHaveLength(res.usage.completion_tokens)
    for (const entry of content) {
      expect(entry.logprob).toBeLessThanOrEqual(0)
      expect(entry.top_logprobs).toHaveLength(5)
      const values = entry.top_logprobs.map((t: { logprob: number }) => t.logprob)
      expect([...values].sort((a, b) => b - a)).toEqual(values)
      expect(entry.top_logprobs[0].token).toBe(entry.token)
      expect(entry.top_logprobs[0].logprob).toBeCloseTo(entry.logprob, 10)
      expect(Buffer.from(entry.bytes).toString('utf8')).toBe(entry.token)
      // Probabilities of the alternatives cannot add up to more than 1.
      expect(values.reduce((sum: number, v: number) => sum + Math.exp(v), 0)).toBeLessThanOrEqual(1 + 1e-9)
    }
    expect(content.map((c: { token: string }) => c.token).join('')).toBe(res.choices[0].message.content)
  })

  it('top_logprobs 0 gives an empty list; logprobs are streamed per chunk and match the non-streamed ones', async () => {
    const body = { model: MODEL, messages: messages('Stream logprobs'), temperature: 0, max_tokens: 8, logprobs: true, top_logprobs: 0 }
    const whole = await chat(body)
    for (const entry of whole.choices[0].logprobs.content) expect(entry.top_logprobs).toEqual([])
    const streamed = await postJson(t.origin, '/v1/chat/completions', { ...body, stream: true })
    const chunks = sseEvents(streamed.text).filter((c) => c !== '[DONE]' && c.choices[0]?.delta.content)
    for (const chunk of chunks) expect(chunk.choices[0].logprobs.content.length).toBeGreaterThan(0)
    const tokens = chunks.flatMap((c) => c.choices[0].logprobs.content)
    expect(tokens.map((e: { token: string }) => e.token)).toEqual(whole.choices[0].logprobs.content.map((e: { token: string }) => e.token))
    // The streamed request reuses the first one's cached prompt, which moves llama.cpp's numbers in the
    // last bits (batch splits differ; --deterministic-prefill would make them identical).
    const expected = whole.choices[0].logprobs.content.map((e: { logprob: number }) => e.logprob)
    tokens.forEach((e: { logprob: number }, i: number) => expect(e.logprob).toBeCloseTo(expected[i], 4))
  })

  it('without logprobs the field is null', async () => {
    expect((await chat({ max_tokens: 2 })).choices[0].logprobs).toBeNull()
  })
})

describe('logit_bias', () => {
  it('-100 bans a token the model would pick; +100 forces one', async () => {
    const greedy = await greedyTokens()
    const banned = greedy.ids[0]!
    expect(banned).toBeGreaterThanOrEqual(0)
    const after = await greedyTokens({ logit_bias: { [banned]: -100 } })
    expect(after.ids).not.toContain(banned)
    expect(after.text).not.toBe(greedy.text)

    const forced = SPM_VOCAB.tokens.indexOf('\u2581time')
    const res = await greedyTokens({ logit_bias: { [forced]: 100 }, temperature: 1, seed: 5 })
    expect(new Set(res.ids)).toEqual(new Set([forced]))
  })

  it('reaches end-of-generation tokens: +100 on the end-of-turn token ends the reply at once', async () => {
    const res = await chat({ logit_bias: { [IM_END]: 100 }, max_tokens: 10 })
    expect(res.choices[0].finish_reason).toBe('stop')
    expect(res.choices[0].message.content).toBe('')
    expect(res.usage.completion_tokens).toBe(0)
  })

  it('bad_token_ids ban and allowed_token_ids restrict', async () => {
    const greedy = await greedyTokens()
    const banned = await greedyTokens({ bad_token_ids: greedy.ids.slice(0, 3) })
    for (const id of greedy.ids.slice(0, 3)) expect(banned.ids).not.toContain(id)
    const allowed = [SPM_VOCAB.tokens.indexOf('\u2581once'), SPM_VOCAB.tokens.indexOf('\u2581upon')].filter((id) => id >= 0)
    expect(allowed.length).toBe(2)
    const restricted = await greedyTokens({ allowed_token_ids: allowed, temperature: 1, seed: 3 })
    for (const id of restricted.ids) expect(allowed).toContain(id)
  })
})

describe('length controls', () => {
  it('min_tokens holds back end-of-generation until reached', async () => {
    const res = await chat({ logit_bias: { [IM_END]: 100 }, min_tokens: 5, max_tokens: 20 })
    expect(res.choices[0].finish_reason).toBe('stop')
    expect(res.usage.completion_tokens).toBe(5)
  })

  it('min_tokens holds back stop strings too', async () => {
    const greedy = await greedyTokens()
    const stop = greedy.text.slice(1, 4)
    const stopped = await chat({ temperature: 0, max_tokens: 16, stop: [stop] })
    const held = await chat({ temperature: 0, max_tokens: 16, stop: [stop], min_tokens: 12 })
    expect(stopped.usage.completion_tokens).toBeLessThan(12)
    expect(held.usage.completion_tokens).toBeGreaterThanOrEqual(12)
  })

  it('ignore_eos generates exactly max_tokens through end-of-generation tokens', async () => {
    const res = await chat({ logit_bias: { [IM_END]: 100 }, ignore_eos: true, max_tokens: 7 })
    expect(res.choices[0].finish_reason).toBe('length')
    expect(res.usage.completion_tokens).toBe(7)
    expect(res.choices[0].message.content).toBe('') // special tokens are skipped by default
    const kept = await chat({ logit_bias: { [IM_END]: 100 }, ignore_eos: true, max_tokens: 3, skip_special_tokens: false })
    expect(kept.choices[0].message.content).toBe('<|im_end|>'.repeat(3))
  })

  it('truncate_prompt_tokens keeps only the last k prompt tokens', async () => {
    const res = await chat({ truncate_prompt_tokens: 7, max_tokens: 2 })
    expect(res.usage.prompt_tokens).toBe(7)
  })
})

describe('stops', () => {
  it('stop_token_ids ends before that token, leaves its text out and reports it as stop_reason (vLLM)', async () => {
    const greedy = await greedyTokens()
    const at = 3
    const stopId = greedy.ids[at]!
    const first = greedy.ids.indexOf(stopId)
    const pieces = (greedy.res.choices[0].logprobs.content as Array<{ token: string }>).map((c) => c.token)
    const res = await chat({ temperature: 0, max_tokens: 16, stop_token_ids: [stopId], logprobs: true })
    expect(res.choices[0].finish_reason).toBe('stop')
    expect(res.choices[0].stop_reason).toBe(stopId)
    expect(res.usage.completion_tokens).toBe(first + 1)
    expect(res.choices[0].message.content).toBe(pieces.slice(0, first).join(''))
    // The stop token keeps its logprob, as in vLLM, though its text is not in the content.
    const logprobs = res.choices[0].logprobs.content as Array<{ token: string }>
    expect(logprobs.map((c) => c.token)).toEqual(pieces.slice(0, first + 1))
    const streamed = await postJson(t.origin, '/v1/chat/completions', { model: MODEL, messages: messages('Tell me a story'), temperature: 0, max_tokens: 16, stop_token_ids: [stopId], stream: true })
    const chunks = sseEvents(streamed.text).filter((c) => c !== '[DONE]')
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe(pieces.slice(0, first).join(''))
    const kept = await chat({ temperature: 0, max_tokens: 16, stop_token_ids: [stopId], include_stop_str_in_output: true })
    expect(kept.choices[0].message.content).toBe(pieces.slice(0, first + 1).join(''))
    expect(kept.choices[0].stop_reason).toBe(stopId)
  })

  it('include_stop_str_in_output keeps the matched stop string', async () => {
    const greedy = await greedyTokens()
    const stop = greedy.text.slice(4, 9)
    const res = await chat({ temperature: 0, max_tokens: 16, stop, include_stop_str_in_output: true })
    expect(res.choices[0].message.content).toBe(greedy.text.slice(0, greedy.text.indexOf(stop) + stop.length))
    expect(res.choices[0].stop_reason).toBe(stop)
  })
})

describe('sampling', () => {
  it('top_k 1 equals greedy; min_p 1 equals greedy', async () => {
    const greedy = await greedyTokens()
    expect((await greedyTokens({ temperature: 1, top_k: 1, seed: 8 })).text).toBe(greedy.text)
    expect((await greedyTokens({ temperature: 1, min_p: 1, seed: 9 })).text).toBe(greedy.text)
  })

  it('a seeded request gives its solo output while other requests run beside it', async () => {
    const body = (seed: number) => ({ temperature: 1, max_tokens: 24, seed })
    const solo = await Promise.all([1, 2, 3].map(async (seed) => (await chat(body(seed))).choices[0].message.content))
    const together = await Promise.all([1, 2, 3, 1].map((seed) => chat(body(seed))))
    expect(together.map((r) => r.choices[0].message.content)).toEqual([...solo, solo[0]])
  })

  it('frequency and presence penalties subtract exactly per occurrence; repetition_penalty scales down repeats', async () => {
    // Two allowed tokens make the effect measurable: the gap between their logprobs at step 1 moves by
    // exactly the penalty of the token chosen at step 0 (the history up to there is the same in every run).
    const [A, B] = ['\u2581once', '\u2581upon'].map((piece) => SPM_VOCAB.tokens.indexOf(piece))
    const run = async (extra: Record<string, unknown>) => {
      const res = await chat({ temperature: 0, max_tokens: 2, logprobs: true, top_logprobs: 2, allowed_token_ids: [A, B], ...extra })
      const steps = res.choices[0].logprobs.content as Array<{ bytes: number[]; top_logprobs: Array<{ bytes: number[]; logprob: number }> }>
      const gap = (step: number) => {
        const lp = (id: number) => steps[step]!.top_logprobs.find((t) => tokenId(t.bytes) === id)!.logprob
        return lp(A!) - lp(B!)
      }
      return { first: tokenId(steps[0]!.bytes), gap0: gap(0), gap1: gap(1) }
    }
    const base = await run({})
    const sign = base.first === A ? 1 : -1 // the penalty lands on whichever token came first
    for (const [param, value, shift] of [
      ['frequency_penalty', 1.5, 1.5],
      ['presence_penalty', 0.75, 0.75],
      ['presence_penalty', -1.25, -1.25],
    ] as const) {
      const penalised = await run({ [param]: value })
      expect(penalised.gap0).toBeCloseTo(base.gap0, 6)
      expect(penalised.gap1 - base.gap1).toBeCloseTo(-sign * shift, 4)
    }
    const both = await run({ frequency_penalty: 0.5, presence_penalty: 0.25 })
    expect(both.gap1 - base.gap1).toBeCloseTo(-sign * 0.75, 4)
    const repetition = await run({ repetition_penalty: 1.8 })
    expect(repetition.gap0).toBeCloseTo(base.gap0, 6)
    expect(sign * (repetition.gap1 - base.gap1)).toBeLessThan(0)
  })
})

describe('n', () => {
  it('returns n distinct choices from one prompt evaluation, usage counting them all', async () => {
    const res = await chat({ n: 3, temperature: 1, max_tokens: 12, seed: 21 })
    expect(res.choices.map((c: { index: number }) => c.index)).toEqual([0, 1, 2])
    expect(new Set(res.choices.map((c: { message: { content: string } }) => c.message.content)).size).toBe(3)
    expect(res.usage.completion_tokens).toBe(36)
    const again = await chat({ n: 3, temperature: 1, max_tokens: 12, seed: 21 })
    expect(again.choices.map((c: { message: { content: string } }) => c.message.content)).toEqual(
      res.choices.map((c: { message: { content: string } }) => c.message.content),
    )
  })

  it('streams the choices interleaved by index, each with its role and finishing chunk', async () => {
    const body = { model: MODEL, messages: messages('Tell me a story'), n: 2, temperature: 1, max_tokens: 6, seed: 4 }
    const whole = await chat(body)
    const res = await postJson(t.origin, '/v1/chat/completions', { ...body, stream: true })
    const chunks = sseEvents(res.text).filter((c) => c !== '[DONE]')
    for (const index of [0, 1]) {
      const mine = chunks.filter((c) => c.choices[0]?.index === index)
      expect(mine[0].choices[0].delta.role).toBe('assistant')
      expect(mine.at(-1).choices[0].finish_reason).toBe('length')
      const text = mine.map((c) => c.choices[0].delta.content ?? '').join('')
      expect(text).toBe(whole.choices[index].message.content)
    }
    const indices = chunks.filter((c) => c.choices[0]?.delta.content).map((c) => c.choices[0].index)
    expect(indices.indexOf(1)).toBeLessThan(indices.lastIndexOf(0)) // interleaved, not one after the other
    expect(chunks.at(-1).usage.completion_tokens).toBe(12)
  })
})

describe('refusals name the parameter', () => {
  it.each([
    ['best_of above n', { best_of: 2 }, 'best_of'],
    ['beam search', { use_beam_search: true }, 'use_beam_search'],
    ['n above the maximum', { n: 9 }, 'n'],
    ['n above the free slots', { n: 5 }, 'n'],
    ['a penalty out of range', { frequency_penalty: 2.5 }, 'frequency_penalty'],
    ['top_logprobs without logprobs', { top_logprobs: 3 }, 'top_logprobs'],
    ['top_logprobs above 20', { logprobs: true, top_logprobs: 21 }, 'top_logprobs'],
    ['a logit_bias token outside the vocabulary', { logit_bias: { 999999: 5 } }, 'logit_bias'],
    ['a logit_bias value out of range', { logit_bias: { 5: 101 } }, 'logit_bias[5]'],
    ['a stop token outside the vocabulary', { stop_token_ids: [SPM_VOCAB.tokens.length] }, 'stop_token_ids'],
    ['a prompt logprobs request', { prompt_logprobs: 2 }, 'prompt_logprobs'],
  ])('%s', async (_name, body, param) => {
    const res = await postJson(t.origin, '/v1/chat/completions', { model: MODEL, messages: messages('x'), ...body })
    expect(res.status).toBe(400)
    expect(res.json.error.param).toBe(param)
  })

  it('lists unknown fields in x-ignored-params', async () => {
    const res = await postJson(t.origin, '/v1/chat/completions', {
      model: MODEL,
      messages: messages('x'),
      max_tokens: 1,
      service_tier: 'auto',
      my_extra: 1,
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('x-ignored-params')).toBe('service_tier,my_extra')
  })
})

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { postJson, startTestServer, type TestServer } from './helpers/test-server.js'

/**
 * Sampling draws from the distribution the logprobs describe: many seeded one-token draws of the same
 * prompt are counted against the probabilities `top_logprobs` reports for it (Pearson's chi-square), at
 * temperature 1 with no truncation (OpenAI's default), and with top_k, top_p and min_p, whose draws must
 * stay inside exactly the set each keeps and follow its renormalized probabilities.
 */
let t: TestServer
const MODEL = 'tiny-chat'
const PROMPT = [{ role: 'user', content: 'Pick a word, any word.' }]
const CHOICES = 8
const REQUESTS = 75 // 600 draws per case

beforeAll(async () => {
  t = await startTestServer({ parallel: String(CHOICES) })
})
afterAll(() => t?.close())

interface Reference {
  tokens: string[]
  probabilities: number[]
}

/** The first token's 20 most likely tokens and their probabilities at temperature 1. */
async function reference(): Promise<Reference> {
  const res = await postJson(t.origin, '/v1/chat/completions', {
    model: MODEL, messages: PROMPT, max_tokens: 1, temperature: 1, logprobs: true, top_logprobs: 20, ignore_eos: true, seed: 1,
  })
  expect(res.status, res.text).toBe(200)
  const top = res.json.choices[0].logprobs.content[0].top_logprobs as Array<{ token: string; logprob: number }>
  expect(new Set(top.map((e) => e.token)).size).toBe(top.length) // texts identify the tokens
  return { tokens: top.map((e) => e.token), probabilities: top.map((e) => Math.exp(e.logprob)) }
}

/** The first token's text of REQUESTS × CHOICES seeded draws (no logprobs: the plain sampling path). */
async function draws(sampling: Record<string, unknown>): Promise<string[]> {
  const texts: string[] = []
  for (let i = 0; i < REQUESTS; i++) {
    const res = await postJson(t.origin, '/v1/chat/completions', {
      model: MODEL, messages: PROMPT, max_tokens: 1, temperature: 1, ignore_eos: true, n: CHOICES, seed: 1000 + i * CHOICES, ...sampling,
    })
    expect(res.status, res.text).toBe(200)
    for (const choice of res.json.choices) texts.push(choice.message.content)
  }
  return texts
}

/**
 * Pearson's statistic of the draws against `expected` (probabilities of `tokens`, summing to at most 1;
 * the rest is one "other" bin). Bins expected to hold fewer than 5 draws are merged into "other".
 */
function chiSquare(drawn: string[], tokens: string[], expected: number[]): { statistic: number; bins: number } {
  const n = drawn.length
  const counts = new Map<string, number>()
  for (const text of drawn) counts.set(text, (counts.get(text) ?? 0) + 1)
  let statistic = 0
  let bins = 0
  let otherExpected = n
  let otherObserved = n
  tokens.forEach((token, i) => {
    const e = n * expected[i]!
    if (e < 5) return
    const o = counts.get(token) ?? 0
    statistic += (o - e) ** 2 / e
    bins++
    otherExpected -= e
    otherObserved -= o
  })
  if (otherExpected >= 5) {
    statistic += (otherObserved - otherExpected) ** 2 / otherExpected
    bins++
  } else {
    // Too small a bin for the statistic: it must at least not hold many draws.
    expect(otherObserved).toBeLessThanOrEqual(Math.max(5, 3 * otherExpected))
  }
  return { statistic, bins }
}

/** The chi-square value exceeded with probability 0.001 at `df` degrees of freedom (Wilson–Hilferty). */
function critical(df: number): number {
  const z = 3.09
  return df * (1 - 2 / (9 * df) + z * Math.sqrt(2 / (9 * df))) ** 3
}

function expectFits(drawn: string[], tokens: string[], expected: number[]): void {
  const { statistic, bins } = chiSquare(drawn, tokens, expected)
  expect(bins).toBeGreaterThanOrEqual(3)
  expect(statistic).toBeLessThan(critical(bins - 1))
}

describe('sampling distribution', () => {
  it('temperature 1 with no truncation reproduces the logprobs distribution, tail included', async () => {
    const ref = await reference()
    const drawn = await draws({})
    // The 20 most likely tokens must leave a tail that gets drawn, or this would not test "no truncation".
    const tail = 1 - ref.probabilities.reduce((a, b) => a + b, 0)
    expect(tail * drawn.length).toBeGreaterThanOrEqual(5)
    expect(drawn.filter((text) => !ref.tokens.includes(text)).length).toBeGreaterThan(0)
    expectFits(drawn, ref.tokens, ref.probabilities)
  })

  it('top_k, top_p and min_p keep exactly their sets and renormalize within them', async () => {
    const ref = await reference()
    const p = ref.probabilities
    const renormalized = (keep: number) => p.slice(0, keep).map((x) => x / p.slice(0, keep).reduce((a, b) => a + b, 0))
    const cumulative = (k: number) => p.slice(0, k).reduce((a, b) => a + b, 0)
    const cases: Array<[string, Record<string, unknown>, number]> = [
      ['top_k 3', { top_k: 3 }, 3],
      // Halfway between the mass of the top 3 and of the top 4: the nucleus is the top 4.
      ['top_p', { top_p: (cumulative(3) + cumulative(4)) / 2 }, 4],
      // Halfway between the 5th and 6th token's probability relative to the top one: min_p keeps 5.
      ['min_p', { min_p: (p[4]! / p[0]! + p[5]! / p[0]!) / 2 }, 5],
    ]
    for (const [name, sampling, keep] of cases) {
      const drawn = await draws(sampling)
      const kept = ref.tokens.slice(0, keep)
      expect(drawn.filter((text) => !kept.includes(text)), name).toEqual([])
      expectFits(drawn, kept, renormalized(keep))
    }
  })
})

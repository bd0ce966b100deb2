import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { schemaConstraint } from '../src/constraints/schema-constraint.js'
import { postJson, startTestServer, type TestServer } from './helpers/test-server.js'
import { waitFor } from './helpers/async.js'

/**
 * A 15-digit integer range used to grow its grammar as 2^digits: 39 s of compilation at 13 digits, during
 * which every other request stalled. Now the grammar is linear in the digits, so it is small, and a stream
 * running beside it keeps flowing.
 */
let t: TestServer

beforeAll(async () => {
  t = await startTestServer({ parallel: '2', contextSize: '1024' })
})
afterAll(() => t?.close())

const RANGE = { type: 'object', properties: { n: { type: 'integer', minimum: -999999999999999, maximum: 999999999999999 }, m: { type: 'integer', exclusiveMinimum: -9007199254740991, exclusiveMaximum: 9007199254740991 } }, required: ['n', 'm'], additionalProperties: false }

describe('wide integer ranges', () => {
  it('compile to a grammar linear in the digits', () => {
    const { gbnf } = schemaConstraint(RANGE, { param: 'p', strict: true })
    // The 2^digits grammar of one 13-digit bound was megabytes; both ranges here fit in a few kB.
    expect(gbnf.length).toBeLessThan(8000)
  })

  it('are served while another request streams undisturbed', async () => {
    const arrivals: number[] = []
    const streaming = (async () => {
      const res = await fetch(`${t.origin}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'tiny-chat', messages: [{ role: 'user', content: 'Tell me a long story.' }], max_tokens: 300, ignore_eos: true, stream: true, seed: 1 }),
      })
      const reader = res.body!.getReader()
      for (;;) {
        const { done } = await reader.read()
        if (done) break
        arrivals.push(performance.now())
      }
    })()
    // Wait until the stream is flowing, then send the wide range beside it.
    await waitFor(() => arrivals.length >= 5)
    const sentAt = performance.now()
    const res = await postJson(t.origin, '/v1/chat/completions', {
      model: 'tiny-chat',
      messages: [{ role: 'user', content: 'Two numbers.' }],
      response_format: { type: 'json_schema', json_schema: { name: 'range', schema: { ...RANGE, properties: { ...RANGE.properties, m: { ...RANGE.properties.m, $comment: 'uncached' } } }, strict: true } },
      max_tokens: 100,
      seed: 2,
    })
    const answeredAt = performance.now()
    await streaming
    expect(res.status, res.text).toBe(200)
    const value = JSON.parse(res.json.choices[0].message.content)
    expect(Number.isInteger(value.n) && Math.abs(value.n) <= 999999999999999).toBe(true)
    expect(Number.isInteger(value.m) && Math.abs(value.m) < 9007199254740991).toBe(true)
    // The other stream never paused for long while the range was compiled and sampled (it paused 36 s before);
    // the bound is generous for a loaded machine.
    const during = arrivals.filter((at) => at >= sentAt && at <= answeredAt + 1000)
    const gaps = during.slice(1).map((at, i) => at - during[i]!)
    expect(Math.max(0, ...gaps)).toBeLessThan(5000)
    expect(arrivals.length).toBeGreaterThan(5)
  })
})

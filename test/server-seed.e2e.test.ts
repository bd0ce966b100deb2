import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, type TestServer } from './helpers/test-server.js'

describe('--seed: a server-wide default seed', () => {
  let t: TestServer
  beforeAll(async () => {
    t = await startTestServer({ seed: '99' })
  })
  afterAll(() => t?.close())

  it('requests without a seed sample with the server seed; a request seed still wins', async () => {
    const body = { model: 'tiny-chat', messages: [{ role: 'user' as const, content: 'Tell me a story' }], temperature: 1.5, max_tokens: 24 }
    const text = async (extra: Record<string, unknown> = {}) => (await t.client.chat.completions.create({ ...body, ...extra })).choices[0]!.message.content
    const [a, b] = [await text(), await text()]
    expect(a).toBe(b)
    expect(await text({ seed: 99 })).toBe(a)
    const others = await Promise.all([1, 2, 3].map((seed) => text({ seed })))
    expect(others.some((o) => o !== a)).toBe(true)
  })
})

import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { STORIES_MODEL_PATH } from './helpers/models.js'
import { postJson, startTestServer, type TestServer } from './helpers/test-server.js'

let t: TestServer | null = null
afterEach(async () => {
  await t?.close()
  t = null
})

/** A logger whose JSON lines are kept in memory. */
function memoryLogger() {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line))
      done()
    },
  })
  return { logger: pino({ level: 'info' }, stream), lines }
}

const SECRET = 'my secret prompt 1234'
const requestLine = (lines: Array<Record<string, unknown>>) => lines.find((l) => l.msg === 'request' && l.route === '/v1/chat/completions')

describe('request log', () => {
  it('writes one line per request with tokens and timings, and never the prompt by default', async () => {
    const { logger, lines } = memoryLogger()
    t = await startTestServer({}, logger)
    const res = await postJson(t.origin, '/v1/chat/completions', { messages: [{ role: 'user', content: SECRET }], max_tokens: 5 }, { 'x-request-id': 'log-test-1' })
    expect(res.status).toBe(200)
    await new Promise((r) => setTimeout(r, 50))
    const line = requestLine(lines)!
    expect(line).toMatchObject({ reqId: 'log-test-1', method: 'POST', status: 200, promptTokens: res.json.usage.prompt_tokens, completionTokens: 5, cachedTokens: 0 })
    expect(typeof line.ttftMs).toBe('number')
    expect(typeof line.durationMs).toBe('number')
    expect(JSON.stringify(lines)).not.toContain(SECRET)
  })

  it('logs prompts and outputs only with --log-prompts', async () => {
    const { logger, lines } = memoryLogger()
    t = await startTestServer({ logPrompts: true }, logger)
    const res = await postJson(t.origin, '/v1/chat/completions', { messages: [{ role: 'user', content: SECRET }], max_tokens: 5 })
    await new Promise((r) => setTimeout(r, 50))
    const line = requestLine(lines)!
    expect(JSON.stringify(line.prompt)).toContain(SECRET)
    expect(line.output).toBe(res.json.choices[0].message.content)
  })
})

describe.skipIf(STORIES_MODEL_PATH === null)('a real trained model (stories260K, from ../shared/models)', () => {
  it('chats in English, deterministically at temperature 0', async () => {
    t = await startTestServer({ model: [STORIES_MODEL_PATH!] })
    const ask = () =>
      t!.client.chat.completions.create({
        model: 'stories260K',
        messages: [{ role: 'user', content: 'Once upon a time' }],
        max_tokens: 40,
        temperature: 0,
      })
    const [a, b] = [await ask(), await ask()]
    const text = a.choices[0]!.message.content!
    expect(text).toBe(b.choices[0]!.message.content)
    // A trained TinyStories model writes real words: most of its tokens form common English words.
    const words = text.toLowerCase().match(/[a-z]+/g) ?? []
    expect(words.length).toBeGreaterThan(5)
    const common = ['the', 'a', 'was', 'and', 'to', 'she', 'he', 'they', 'it', 'little', 'day', 'with', 'her', 'his', 'said', 'play', 'saw', 'in', 'of']
    expect(words.filter((w) => common.includes(w)).length).toBeGreaterThanOrEqual(2)
  })
})

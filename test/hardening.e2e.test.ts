import { mkdtempSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REQUEST_LIMITS } from '../src/api/schemas/limits.js'
import { postJson, startImpatientServer, startTestServer, type TestServer } from './helpers/test-server.js'

const user = (content: string) => [{ role: 'user', content }]

/** Sends raw bytes on a fresh connection and resolves with what came back once the server closes it. */
function rawExchange(origin: string, bytes: string, keepOpenMs: number): Promise<{ reply: string; closedAfterMs: number }> {
  const { hostname, port } = new URL(origin)
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const socket = connect(Number(port), hostname, () => socket.write(bytes))
    let reply = ''
    socket.on('data', (chunk) => (reply += chunk.toString()))
    socket.on('error', reject)
    socket.on('close', () => resolve({ reply, closedAfterMs: performance.now() - started }))
    // A server that never cuts the client off would leave this open: close it ourselves, later.
    setTimeout(() => socket.destroy(), keepOpenMs).unref()
  })
}

describe('CORS, rate limits, keys from a file, the /metrics token', () => {
  let t: TestServer
  beforeAll(async () => {
    const keysFile = join(mkdtempSync(join(tmpdir(), 'gguf-serve-keys-')), 'keys')
    writeFileSync(keysFile, '# one per line\nkey-a\nkey-b\n')
    t = await startTestServer({ apiKeyFile: keysFile, rateLimit: '3', metricsToken: 'scrape-me', corsOrigin: ['https://app.example'] })
  })
  afterAll(() => t?.close())

  const chat = (key: string) =>
    postJson(t.origin, '/v1/chat/completions', { messages: user('hi'), max_tokens: 1 }, { authorization: `Bearer ${key}` })

  it('a preflight from an allowed origin is answered without a key; other origins get no CORS headers', async () => {
    const preflight = await fetch(`${t.origin}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example')
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/authorization/)
    const allowed = await fetch(`${t.origin}/health`, { headers: { origin: 'https://app.example' } })
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example')
    expect(allowed.headers.get('access-control-expose-headers')).toMatch(/x-request-id/)
    const other = await fetch(`${t.origin}/health`, { headers: { origin: 'https://evil.example' } })
    expect(other.headers.get('access-control-allow-origin')).toBeNull()
  })

  it('keys from the file authenticate; each key has its own budget; past it 429 rate_limit_exceeded with Retry-After', async () => {
    const wrong = await chat('not-a-key')
    expect(wrong.status).toBe(401)
    for (let i = 0; i < 3; i++) expect((await chat('key-a')).status).toBe(200)
    const limited = await chat('key-a')
    expect(limited.status).toBe(429)
    expect(limited.json.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded', param: null })
    expect(limited.json.error.message).toMatch(/3 requests per 60s/)
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0')
    // The SDK sees its RateLimitError; another key and the health probe are unaffected.
    const sdk = new OpenAI({ baseURL: `${t.origin}/v1`, apiKey: 'key-a', maxRetries: 0 })
    await expect(sdk.models.list()).rejects.toBeInstanceOf(OpenAI.RateLimitError)
    expect((await chat('key-b')).status).toBe(200)
    for (let i = 0; i < 5; i++) expect((await fetch(`${t.origin}/health`)).status).toBe(200)
  })

  it('/metrics needs its own token: neither nothing nor an API key opens it', async () => {
    expect((await fetch(`${t.origin}/metrics`)).status).toBe(401)
    expect((await fetch(`${t.origin}/metrics`, { headers: { authorization: 'Bearer key-b' } })).status).toBe(401)
    const scraped = await fetch(`${t.origin}/metrics`, { headers: { authorization: 'Bearer scrape-me' } })
    expect(scraped.status).toBe(200)
    expect(await scraped.text()).toMatch(/gguf_serve_requests_total/)
  })
})

describe('slow clients and oversized requests', () => {
  let t: TestServer
  beforeAll(async () => {
    t = await startTestServer()
  })
  afterAll(() => t?.close())

  it('a client that never finishes its headers or its body is cut off (slowloris); the server keeps answering', async () => {
    const slow = await startImpatientServer(1)
    try {
      const headers = await rawExchange(slow.origin, 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: ', 20_000)
      expect(headers.reply).toMatch(/^HTTP\/1\.1 408/)
      const body = await rawExchange(
        slow.origin,
        'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"messa',
        20_000,
      )
      expect(body.reply).toMatch(/^HTTP\/1\.1 408/)
      expect((await fetch(`${slow.origin}/health`)).status).toBe(200)
      // The deadlines bound receiving a request, not answering it: a generation outlasting both still completes.
      const long = await slow.client.chat.completions.create({
        model: 'tiny-chat',
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 400,
        logprobs: true,
        top_logprobs: 20,
      })
      expect(long.usage?.completion_tokens).toBe(400)
    } finally {
      await slow.close()
    }
  })

  it("errors found below the API (HTTP parsing, URL decoding, routing) answer in the same envelope", async () => {
    const envelope = (reply: string) => JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4))
    const overflow = await rawExchange(t.origin, `GET /health HTTP/1.1\r\nHost: x\r\nX-Long: ${'v'.repeat(20_000)}\r\n\r\n`, 10_000)
    expect(overflow.reply).toMatch(/^HTTP\/1\.1 431/)
    expect(envelope(overflow.reply).error).toMatchObject({ type: 'invalid_request_error', param: null })
    const badMethod = await rawExchange(t.origin, 'FOO / HTTP/1.1\r\nHost: x\r\n\r\n', 10_000)
    expect(badMethod.reply).toMatch(/^HTTP\/1\.1 400/)
    expect(envelope(badMethod.reply).error.message).toMatch(/not valid HTTP/)
    const badUrl = await fetch(`${t.origin}/v1/models/%ff%fe/x`)
    expect(badUrl.status).toBe(400)
    expect(((await badUrl.json()) as { error: object }).error).toMatchObject({ type: 'invalid_request_error' })
    // OPTIONS that is no CORS preflight: answered with the allowed methods, not a plain-text 400.
    const options = await fetch(`${t.origin}/v1/models`, { method: 'OPTIONS' })
    expect(options.status).toBe(204)
    expect(options.headers.get('access-control-allow-methods')).toMatch(/POST/)
    // An ignored field whose name cannot go into a header as it is goes percent-encoded.
    const odd = await postJson(t.origin, '/v1/chat/completions', { messages: user('hi'), max_tokens: 1, '🙂': 1, 'a\u0000b': 2 })
    expect(odd.status).toBe(200)
    expect(odd.headers.get('x-ignored-params')).toBe(`${encodeURIComponent('🙂')},a%00b`)
  })

  it('each bounded field is refused past its limit with 400 naming it', async () => {
    const base = { messages: user('hi'), max_tokens: 1 }
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...base, messages: Array.from({ length: REQUEST_LIMITS.messages + 1 }, () => ({ role: 'user', content: 'x' })) }, 'messages'],
      [{ ...base, tools: Array.from({ length: REQUEST_LIMITS.tools + 1 }, (_, i) => ({ type: 'function', function: { name: `f${i}` } })) }, 'tools'],
      [{ ...base, stop: Array.from({ length: REQUEST_LIMITS.stopStrings + 1 }, (_, i) => `s${i}`) }, 'stop'],
      [{ ...base, stop: 'x'.repeat(REQUEST_LIMITS.stopStringChars + 1) }, 'stop'],
      [{ ...base, logit_bias: Object.fromEntries(Array.from({ length: REQUEST_LIMITS.logitBiasEntries + 1 }, (_, i) => [String(i), 1])) }, 'logit_bias'],
    ]
    for (const [body, param] of cases) {
      const res = await postJson(t.origin, '/v1/chat/completions', body)
      expect(res.status, param).toBe(400)
      expect(res.json.error).toMatchObject({ type: 'invalid_request_error', param })
    }
  })

  it('a body nested past the limit is refused while parsing, however deep', async () => {
    const nested = (depth: number) => `{"messages":[{"role":"user","content":"hi"}],"max_tokens":1,"x":${'['.repeat(depth)}${']'.repeat(depth)}}`
    expect((await postJson(t.origin, '/v1/chat/completions', nested(REQUEST_LIMITS.jsonDepth - 4))).status).toBe(200)
    for (const depth of [REQUEST_LIMITS.jsonDepth + 1, 3_000_000]) {
      const res = await postJson(t.origin, '/v1/chat/completions', nested(depth))
      expect(res.status).toBe(400)
      expect(res.json.error.code).toBe('nesting_too_deep')
    }
    // Brackets inside strings are text, not nesting.
    expect((await postJson(t.origin, '/v1/chat/completions', { messages: user('['.repeat(500)), max_tokens: 1 })).status).toBe(200)
  })

  it('megabytes of prompt text are refused as over the context without stalling other requests', async () => {
    const huge = postJson(t.origin, '/v1/chat/completions', { messages: user('word '.repeat(1_500_000)), max_tokens: 1 })
    const health = await fetch(`${t.origin}/health`)
    expect(health.status).toBe(200)
    const res = await huge
    expect(res.status).toBe(400)
    expect(res.json.error).toMatchObject({ code: 'context_length_exceeded', param: 'messages' })
    expect(res.json.error.message).toMatch(/at least \d+ tokens/)
  })
})

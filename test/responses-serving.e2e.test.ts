import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { postJson, startTestServer, type TestServer } from './helpers/test-server.js'

/** /v1/responses is served like chat: auth, rate limits, the request log line, metrics and the OpenAPI document. */
let t: TestServer
const lines: Array<Record<string, unknown>> = []
const KEY = 'responses-key'
const auth = { authorization: `Bearer ${KEY}` }

beforeAll(async () => {
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line))
      done()
    },
  })
  t = await startTestServer({ apiKey: [KEY], rateLimit: '6', parallel: '1' }, pino({ level: 'info' }, stream))
})
afterAll(() => t?.close())

describe('/v1/responses beside chat', () => {
  it('needs the API key; logs one request line with tokens and timings; counted in the route metric', async () => {
    expect((await postJson(t.origin, '/v1/responses', { input: 'x' })).status).toBe(401)
    const res = await postJson(t.origin, '/v1/responses', { input: 'x', max_output_tokens: 3 }, { ...auth, 'x-request-id': 'resp-log-1' })
    expect(res.status, res.text).toBe(200)
    await expect.poll(() => lines.find((l) => l.msg === 'request' && l.reqId === 'resp-log-1')).toBeDefined()
    const line = lines.find((l) => l.msg === 'request' && l.reqId === 'resp-log-1')!
    expect(line).toMatchObject({ route: '/v1/responses', status: 200, promptTokens: res.json.usage.input_tokens, completionTokens: res.json.usage.output_tokens })
    expect(typeof line.ttftMs).toBe('number')
    const metrics = await (await fetch(`${t.origin}/metrics`)).text()
    expect(metrics).toMatch(/gguf_serve_http_requests_total\{route="\/v1\/responses",status="200"\} [1-9]/)
  })

  it('documented in /openapi.json: create, input_tokens, retrieve, input_items, delete', async () => {
    const doc: any = await (await fetch(`${t.origin}/openapi.json`)).json()
    expect(Object.keys(doc.paths['/v1/responses'])).toEqual(['post'])
    expect(doc.paths['/v1/responses/input_tokens'].post).toBeDefined()
    expect(Object.keys(doc.paths['/v1/responses/{id}']).sort()).toEqual(['delete', 'get'])
    expect(doc.paths['/v1/responses/{id}/input_items'].get).toBeDefined()
    expect(doc.paths['/v1/responses'].post.requestBody.content['application/json'].schema.properties.previous_response_id).toBeDefined()
  })

  it('rate limited per key like chat: 429 rate_limit_exceeded with Retry-After', async () => {
    let last = 200
    let response: Awaited<ReturnType<typeof postJson>> | null = null
    for (let i = 0; i < 8 && last !== 429; i++) {
      response = await postJson(t.origin, '/v1/responses/input_tokens', { input: 'x' }, auth)
      last = response.status
    }
    expect(last).toBe(429)
    expect(response!.json.error.code).toBe('rate_limit_exceeded')
    expect(response!.headers.get('retry-after')).toMatch(/^\d+$/)
  })
})

import { afterAll, describe, expect, it } from 'vitest'
import { postJson, startTestServer, type TestServer } from './helpers/test-server.js'

const REDIS_URL = process.env.GGUF_SERVE_TEST_REDIS_URL
if (process.env.CI && !REDIS_URL) throw new Error('CI must run the Redis tests: set GGUF_SERVE_TEST_REDIS_URL (.ci/run starts a redis-server).')

const model = 'tiny-chat'
const servers: TestServer[] = []
afterAll(async () => {
  for (const server of servers) await server.close()
})

describe.skipIf(!REDIS_URL)('--responses-store redis://…: replicas share conversations', () => {
  it('created on one server, continued, read and deleted on another', async () => {
    const [a, b] = await Promise.all([startTestServer({ responsesStore: REDIS_URL, parallel: '1' }), startTestServer({ responsesStore: REDIS_URL, parallel: '1' })])
    servers.push(a!, b!)
    const first = await a!.client.responses.create({ model, input: 'First.', max_output_tokens: 4 })
    const second = await b!.client.responses.create({ model, previous_response_id: first.id, input: 'Second.', max_output_tokens: 4 })
    expect(second.usage!.input_tokens).toBeGreaterThan(first.usage!.input_tokens + first.usage!.output_tokens)
    expect(await b!.client.responses.retrieve(first.id)).toEqual(first)
    const items = await a!.client.responses.inputItems.list(second.id)
    expect(items.data.map((item: any) => item.content[0].text)).toEqual(['Second.'])
    await a!.client.responses.delete(second.id)
    expect((await fetch(`${b!.origin}/v1/responses/${second.id}`)).status).toBe(404)
  })
})

describe('--no-store', () => {
  it('nothing is kept: store echoes false, reads are 404, previous_response_id is a 404 that says why', async () => {
    const t = await startTestServer({ store: false, parallel: '1' })
    servers.push(t)
    const created = await t.client.responses.create({ model, input: 'x', max_output_tokens: 2 })
    expect((created as any).store).toBe(false)
    expect((await fetch(`${t.origin}/v1/responses/${created.id}`)).status).toBe(404)
    const continued = await postJson(t.origin, '/v1/responses', { model, previous_response_id: created.id, input: 'y' })
    expect(continued.status).toBe(404)
    expect(continued.json.error.message).toMatch(/--no-store/)
  })
})

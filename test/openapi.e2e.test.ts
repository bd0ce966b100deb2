import { afterEach, describe, expect, it } from 'vitest'
import { startTestServer, type TestServer } from './helpers/test-server.js'

describe('OpenAPI document and docs page', () => {
  let server: TestServer | undefined
  afterEach(async () => {
    await server?.close()
    server = undefined
  })

  it('serves /openapi.json from the route schemas, documenting the /v1 prefix only', async () => {
    server = await startTestServer()
    const response = await fetch(`${server.origin}/openapi.json`)
    expect(response.status).toBe(200)
    const document = (await response.json()) as any
    expect(document.openapi).toMatch(/^3\./)
    const chat = document.paths['/v1/chat/completions']?.post
    expect(chat).toBeDefined()
    const body = chat.requestBody.content['application/json'].schema
    expect(body.properties.messages).toBeDefined()
    expect(body.required).toContain('messages')
    expect(document.paths['/health']).toBeDefined()
    expect(document.paths['/chat/completions']).toBeUndefined()
    expect(document.paths['/v1/openai/chat/completions']).toBeUndefined()
    expect(document.paths['/metrics']).toBeUndefined()
    expect(document.paths['/openapi.json']).toBeUndefined()
  })

  it('has no /docs page by default', async () => {
    server = await startTestServer()
    expect((await fetch(`${server.origin}/docs`)).status).toBe(404)
  })

  it('serves /docs with docs enabled, and both stay open with API keys set', async () => {
    server = await startTestServer({ docs: true, apiKey: ['secret'] })
    const docs = await fetch(`${server.origin}/docs`)
    expect(docs.status).toBe(200)
    expect(docs.headers.get('content-type')).toContain('text/html')
    expect((await fetch(`${server.origin}/openapi.json`)).status).toBe(200)
    expect((await fetch(`${server.origin}/v1/models`)).status).toBe(401)
  })
})

import { mkdtempSync, readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { StartupError, type ServeError } from '../src/errors.js'
import { ensureSyntheticModel } from '../src/gguf/make-model.js'
import { runCli } from './helpers/cli-process.js'
import { TINY_MODEL_PATH } from './helpers/models.js'
import { scrape, value } from './helpers/prometheus.js'
import { postJson, startTestServer, type TestServer } from './helpers/test-server.js'
import { waitFor } from './helpers/async.js'

/** A second tiny model: same shape and vocabulary as TINY_MODEL_PATH, other random weights. */
const OTHER_MODEL_PATH = join(mkdtempSync(join(tmpdir(), 'gguf-serve-models-')), 'tiny-other.gguf')
beforeAll(() => ensureSyntheticModel(OTHER_MODEL_PATH, 'tiny', { seed: 2 }))

const servers: TestServer[] = []
const httpServers: Server[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close()
  for (const s of httpServers.splice(0)) s.close()
})

/** A server for `models` (YAML list items); tiny models on one thread, small contexts. */
async function serve(models: string, engine: Record<string, number> = {}): Promise<TestServer> {
  const yaml = [
    `engine: ${JSON.stringify(engine)}`,
    'modelDefaults: { threads: 1, contextSize: 512, parallel: 2 }',
    'models:',
    models,
  ].join('\n')
  const t = await startTestServer({}, undefined, yaml)
  servers.push(t)
  return t
}

const seeded = (model: string, extra: Record<string, unknown> = {}) => ({
  model,
  messages: [{ role: 'user', content: 'Tell me a story' }],
  max_tokens: 12,
  temperature: 1,
  seed: 7,
  ...extra,
})
/** Holds a slot for a while: every token up to max_tokens is generated. */
const busy = (model: string, maxTokens: number) => seeded(model, { max_tokens: maxTokens, ignore_eos: true })

async function status(t: TestServer, id: string): Promise<string> {
  return ((await (await fetch(`${t.origin}/v1/models/${encodeURIComponent(id)}`)).json()) as { status: string }).status
}

async function serveError(work: Promise<unknown>): Promise<ServeError> {
  try {
    await work
  } catch (error) {
    return error as ServeError
  }
  return expect.fail('expected a rejection')
}

describe('several models', () => {
  it('routes by id and alias; the response echoes the name asked for; different weights give different text', async () => {
    const t = await serve(`
  - { id: alpha, aliases: [gpt-4o-mini], source: ${TINY_MODEL_PATH} }
  - { id: beta, aliases: [b], source: ${OTHER_MODEL_PATH}, preload: true }`)
    const texts: Record<string, string> = {}
    for (const name of ['alpha', 'gpt-4o-mini', 'beta', 'b']) {
      const res = await postJson(t.origin, '/v1/chat/completions', seeded(name))
      expect(res.status).toBe(200)
      expect(res.json.model).toBe(name)
      texts[name] = res.json.choices[0].message.content
    }
    expect(texts['gpt-4o-mini']).toBe(texts.alpha)
    expect(texts.b).toBe(texts.beta)
    expect(texts.beta).not.toBe(texts.alpha)

    const list = await t.client.models.list()
    expect(list.data.map((m: any) => [m.id, m.aliases, m.status, m.owned_by])).toEqual([
      ['alpha', ['gpt-4o-mini'], 'ready', 'gguf-serve'],
      ['beta', ['b'], 'ready', 'gguf-serve'],
    ])
    const unknown = await postJson(t.origin, '/v1/chat/completions', seeded('gamma'))
    expect(unknown.status).toBe(404)
    expect(unknown.json.error.code).toBe('model_not_found')
  })

  it('loads a lazy model on first use (waiting requests share the load) and unloads it after its ttl', async () => {
    const t = await serve(`
  - { id: alpha, source: ${TINY_MODEL_PATH} }
  - { id: lazy, aliases: [lazy-alias], source: ${OTHER_MODEL_PATH}, ttl: 1 }`)
    const { router } = t.server
    expect(await status(t, 'lazy')).toBe('unloaded')
    const health = await fetch(`${t.origin}/health`)
    expect(health.status).toBe(200) // a lazy model does not hold readiness back
    expect(((await health.json()) as any).models.map((m: any) => [m.id, m.state])).toEqual([
      ['alpha', 'ready'],
      ['lazy', 'unloaded'],
    ])
    expect(value(await scrape(t.origin), 'gguf_serve_model_loaded', { model: 'lazy' })).toBe(0)

    const loadStarted = performance.now()
    const first = router.acquire('lazy')
    const second = router.acquire('lazy-alias')
    expect(router.find('lazy')!.state).toBe('loading')
    const [a, b] = await Promise.all([first, second])
    const loadMs = performance.now() - loadStarted
    expect(a).toBe(b)
    expect(await status(t, 'lazy')).toBe('ready')
    const [r1, r2] = await Promise.all([
      postJson(t.origin, '/v1/chat/completions', seeded('lazy')),
      postJson(t.origin, '/v1/chat/completions', seeded('lazy-alias')),
    ])
    expect([r1.status, r2.status]).toEqual([200, 200])
    const loaded = await scrape(t.origin)
    expect(value(loaded, 'gguf_serve_model_loaded', { model: 'lazy' })).toBe(1)
    expect(value(loaded, 'gguf_serve_model_loads_total', { model: 'lazy' })).toBe(1)
    expect(value(loaded, 'gguf_serve_slots_total', { model: 'lazy' })).toBe(2)

    const lastRequest = performance.now()
    await waitFor(async () => (await status(t, 'lazy')) === 'unloaded', 5_000)
    const idleMs = performance.now() - lastRequest
    expect(idleMs).toBeGreaterThanOrEqual(900)
    const unloaded = await scrape(t.origin)
    expect(value(unloaded, 'gguf_serve_model_loaded', { model: 'lazy' })).toBe(0)
    expect(value(unloaded, 'gguf_serve_model_unloads_total', { model: 'lazy', reason: 'ttl' })).toBe(1)
    expect([...unloaded.keys()].some((k) => k.startsWith('gguf_serve_slots_total{') && k.includes('"lazy"'))).toBe(false)
    expect(await status(t, 'alpha')).toBe('ready') // no ttl: stays
    console.log(`lazy load of a tiny model: ${loadMs.toFixed(0)} ms; unloaded ${idleMs.toFixed(0)} ms after the last request (ttl 1 s)`)

    // It comes back on the next request, which waits for the load.
    expect((await postJson(t.origin, '/v1/chat/completions', seeded('lazy'))).json.choices[0].message.content).toBe(
      r1.json.choices[0].message.content,
    )
    expect(value(await scrape(t.origin), 'gguf_serve_model_loads_total', { model: 'lazy' })).toBe(2)
  })

  it('plain HTTP requests to an unloaded model wait for its load instead of failing', async () => {
    const t = await serve(`
  - { id: alpha, source: ${TINY_MODEL_PATH} }
  - { id: lazy, aliases: [lazy-alias], source: ${OTHER_MODEL_PATH} }`)
    expect(await status(t, 'lazy')).toBe('unloaded')
    const responses = await Promise.all([
      postJson(t.origin, '/v1/chat/completions', seeded('lazy')),
      postJson(t.origin, '/v1/completions', { model: 'lazy-alias', prompt: 'Once upon', max_tokens: 3 }),
      postJson(t.origin, '/v1/embeddings', { model: 'lazy', input: 'hello' }),
    ])
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200])
    expect(value(await scrape(t.origin), 'gguf_serve_model_loads_total', { model: 'lazy' })).toBe(1)
  })

  it('at maxLoadedModels, unloads the least recently used idle model, waiting for a busy one to finish', async () => {
    const t = await serve(
      `
  - { id: alpha, source: ${TINY_MODEL_PATH}, parallel: 1 }
  - { id: beta, source: ${OTHER_MODEL_PATH}, parallel: 1 }`,
      { maxLoadedModels: 1, modelLoadTimeoutMs: 2500 },
    )
    const { router } = t.server
    await router.acquire('beta')
    expect([await status(t, 'alpha'), await status(t, 'beta')]).toEqual(['unloaded', 'ready'])
    expect(value(await scrape(t.origin), 'gguf_serve_model_unloads_total', { model: 'alpha', reason: 'evicted' })).toBe(1)

    // beta busy for a short while: alpha's load waits for it, then evicts it.
    const short = postJson(t.origin, '/v1/chat/completions', busy('beta', 60))
    await waitFor(() => t.server.models.describe()[1]!.slotsBusy === 1)
    let shortFinished = false
    void short.then(() => (shortFinished = true))
    await router.acquire('alpha')
    expect(shortFinished).toBe(true)
    expect((await short).status).toBe(200)
    expect([await status(t, 'alpha'), await status(t, 'beta')]).toEqual(['ready', 'unloaded'])

    // alpha busy longer than modelLoadTimeoutMs: beta gives up with 503 models_busy and Retry-After.
    // 60 × 450 tokens one after the other: far more than any machine generates in 2.5 s; the ones still
    // running or queued once beta has been refused are cancelled, so the test does not wait them out.
    const stop = new AbortController()
    const long = Array.from({ length: 60 }, () =>
      fetch(`${t.origin}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(busy('alpha', 450)),
        signal: stop.signal,
      }).then(
        (res) => res.status,
        () => 'cancelled',
      ),
    )
    await waitFor(() => t.server.models.describe()[0]!.slotsBusy === 1)
    const refused = await serveError(router.acquire('beta'))
    expect([refused.status, refused.type, refused.code]).toEqual([503, 'server_error', 'models_busy'])
    expect(refused.headers['retry-after']).toBe('5')
    stop.abort()
    const outcomes = await Promise.all(long)
    expect(outcomes.filter((o) => o !== 200 && o !== 'cancelled')).toEqual([])
    expect(outcomes).toContain('cancelled')
    expect(await status(t, 'alpha')).toBe('ready')
  })

  it('ids sharing one file share its weights, each with its own context size; unloading one keeps the other', async () => {
    const t = await serve(`
  - { id: tiny@512, source: ${TINY_MODEL_PATH}, contextSize: 512, ttl: 1 }
  - { id: tiny@1024, source: ${TINY_MODEL_PATH}, contextSize: 1024, preload: true }`)
    const { router } = t.server
    const small = router.find('tiny@512')!.scheduler!.model
    const large = router.find('tiny@1024')!.scheduler!.model
    expect(small.model).toBe(large.model)
    expect(small).not.toBe(large)
    const list = await t.client.models.list()
    expect(list.data.map((m: any) => [m.id, m.context_length])).toEqual([
      ['tiny@512', 512],
      ['tiny@1024', 1024],
    ])
    // About 700 tokens (one per word): too long for one context, fine for the other.
    const content = ' story'.repeat(700)
    const tooLong = seeded('tiny@512', { messages: [{ role: 'user', content }] })
    await router.acquire('tiny@512') // in case its 1 s ttl already passed on a slow machine
    expect((await postJson(t.origin, '/v1/chat/completions', tooLong)).json.error.code).toBe('context_length_exceeded')
    expect((await postJson(t.origin, '/v1/chat/completions', { ...tooLong, model: 'tiny@1024' })).status).toBe(200)

    await waitFor(async () => (await status(t, 'tiny@512')) === 'unloaded', 5_000)
    expect(large.model.disposed).toBe(false)
    expect((await postJson(t.origin, '/v1/chat/completions', seeded('tiny@1024'))).status).toBe(200)
  })

  it('renders prompts with a chat template from the config instead of the GGUF one', async () => {
    const t = await serve(`
  - id: plain
    source: ${TINY_MODEL_PATH}
    chatTemplate: "{% for m in messages %}[{{ m.role }}] {{ m.content }}{% endfor %}"`)
    const loaded = t.server.router.find('plain')!.scheduler!.model
    const { tokens } = loaded.renderer.render([{ role: 'user', content: 'hello' }])
    const text = loaded.model.detokenize(tokens, true)
    expect(text).toContain('[user] hello')
    expect(text).not.toContain('<|im_start|>') // the GGUF's ChatML template
  })

  it('refuses a model whose estimated memory does not fit: 503 model_too_large for a lazy load, a start-up error for a preloaded one', async () => {
    const headroom = { memoryHeadroomBytes: 2 ** 50 }
    const t = await serve(`  - { id: huge, source: ${TINY_MODEL_PATH}, preload: false }`, headroom)
    expect((await fetch(`${t.origin}/health`)).status).toBe(200)
    const refused = await serveError(t.server.router.acquire('huge'))
    expect([refused.status, refused.code]).toEqual([503, 'model_too_large'])
    expect(refused.message).toMatch(/^Model 'huge' needs about [\d.]+ MiB of RAM \(weights [\d.]+ KiB, context [\d.]+ MiB\), but .* is available/)
    expect(await status(t, 'huge')).toBe('unloaded')

    const error = await serve(`  - { id: huge, source: ${TINY_MODEL_PATH} }`, headroom).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(StartupError)
    expect((error as Error).message).toMatch(/needs about .* of RAM/)
  })
})

describe('model cache commands', () => {
  it('pull downloads a URL model once and prints its path; models lists it', async () => {
    let gets = 0
    const file = readFileSync(TINY_MODEL_PATH)
    const server = createServer((_req, res) => {
      gets++
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': file.length })
      res.end(file)
    })
    httpServers.push(server)
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/files/tiny-chat.gguf`
    const cacheDir = mkdtempSync(join(tmpdir(), 'gguf-serve-cache-'))

    const empty = runCli(['models', '--cache-dir', cacheDir])
    expect(await empty.exited).toBe(0)
    expect(empty.output()).toContain('No GGUF files')

    const pull = async () => {
      const run = runCli(['pull', url, '--cache-dir', cacheDir])
      expect(await run.exited, run.output()).toBe(0)
      return run.output().split('\n').find((line) => line.startsWith(cacheDir))
    }
    const path = await pull()
    expect(path).toMatch(/tiny-chat\.gguf$/)
    expect(readFileSync(path!).equals(file)).toBe(true)
    const requests = gets
    expect(await pull()).toBe(path) // from the cache: no request
    expect(gets).toBe(requests)

    const list = runCli(['models', '--cache-dir', cacheDir])
    expect(await list.exited).toBe(0)
    const lines = list.output().split('\n')
    expect(lines[0]).toMatch(/^NAME\s+SIZE\s+ARCHITECTURE\s+TYPE$/)
    // Names are what --model takes: the file inside the cache, without .gguf.
    const row = lines.find((line) => /_tiny-chat\s/.test(line))!
    expect(row).toMatch(/^url_127\.0\.0\.1_\d+_[0-9a-f]{8}_tiny-chat\s+[\d.]+ [KM]iB\s+llama\s+F32$/)
  }, 180_000) // four CLI processes, each loading the native addon
})

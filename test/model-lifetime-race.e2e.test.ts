import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureSyntheticModel } from '../src/gguf/make-model.js'
import { runCli, waitHealthy, type CliRun } from './helpers/cli-process.js'
import { TINY_MODEL_PATH } from './helpers/models.js'
import { scrape, value } from './helpers/prometheus.js'
import { postJson } from './helpers/test-server.js'
import { waitFor } from './helpers/async.js'

/**
 * Models are unloaded (ttl, eviction for another model) only when nothing uses them: not while an
 * embeddings, tokenize or chat request holds them. Before leases, an embeddings request did not count
 * as use, and an unload freed its embedding context under the running evaluation: the process died.
 * The server runs as a child process so that such a crash fails this test instead of killing the runner.
 */

const dir = mkdtempSync(join(tmpdir(), 'gguf-serve-race-'))
const OTHER_MODEL_PATH = join(dir, 'tiny-other.gguf')
const ITERATIONS = 10
const SENTENCE = 'The quick brown fox jumps over the lazy dog while the cat watches from the warm window sill. '

let run: CliRun
let origin: string

beforeAll(async () => {
  await ensureSyntheticModel(OTHER_MODEL_PATH, 'tiny', { seed: 2 })
  const config = join(dir, 'config.yaml')
  writeFileSync(
    config,
    [
      // A loaded machine may take long to read the larger bodies below.
      'server: { bodyTimeoutMs: 120000, headersTimeoutMs: 120000 }',
      'engine: { maxLoadedModels: 1, modelLoadTimeoutMs: 120000 }',
      'modelDefaults: { threads: 1, contextSize: 512, parallel: 2 }',
      'models:',
      `  - { id: alpha, source: ${JSON.stringify(TINY_MODEL_PATH)}, ttl: 1, preload: true }`,
      `  - { id: beta, source: ${JSON.stringify(OTHER_MODEL_PATH)}, ttl: 1 }`,
    ].join('\n'),
  )
  run = runCli(['start', '--config', config, '--port', '0'])
  origin = await Promise.race([run.url, run.exited.then((code) => Promise.reject(new Error(`exited ${code}: ${run.output()}`)))])
  await waitHealthy(origin, 60_000)
})

afterAll(async () => {
  if (run && run.child.exitCode === null) {
    run.child.kill('SIGTERM')
    await run.exited
  }
})

const embedBody = (inputs: string[]) => ({ model: 'alpha', input: inputs })
const chatBody = { model: 'alpha', messages: [{ role: 'user', content: 'Tell me a story' }], max_tokens: 16, temperature: 1, seed: 7 }
const tokenizeBody = { model: 'alpha', prompt: 'Hello world, tokenize me' }

async function state(id: string): Promise<string> {
  return ((await (await fetch(`${origin}/v1/models/${id}`)).json()) as { status: string }).status
}

function expectSameVectors(actual: number[][], expected: number[][]): void {
  expect(actual.length).toBe(expected.length)
  actual.forEach((vector, i) => vector.forEach((x, j) => expect(Math.abs(x - expected[i]![j]!)).toBeLessThan(1e-4)))
}

describe('model lifetimes against running requests', () => {
  it(`survives ${ITERATIONS} rounds of eviction and ttl unloads during embeddings, chat and tokenize requests, with the same answers`, async () => {
    // Calibrate: an embeddings request that lasts longer than the ttl plus the sweep, on this machine today.
    let inputs = Array.from({ length: 8 }, (_, i) => `${i} ${SENTENCE.repeat(4)}`)
    let reference = await postJson(origin, '/v1/embeddings', embedBody(inputs))
    for (;;) {
      expect(reference.status).toBe(200)
      const started = performance.now()
      reference = await postJson(origin, '/v1/embeddings', embedBody(inputs))
      if (performance.now() - started > 2000 || inputs.length >= 1024) break
      inputs = [...inputs, ...inputs.map((text, i) => `${inputs.length + i} ${text}`)]
    }
    const vectors = (reference.json.data as Array<{ embedding: number[] }>).map((d) => d.embedding)
    const chat = await postJson(origin, '/v1/chat/completions', chatBody)
    const tokens = await postJson(origin, '/v1/tokenize', tokenizeBody)
    expect([chat.status, tokens.status]).toEqual([200, 200])

    for (let i = 0; i < ITERATIONS; i++) {
      const evict = i % 2 === 0
      if ((await state('alpha')) !== 'ready') expect((await postJson(origin, '/v1/tokenize', tokenizeBody)).status).toBe(200)
      const work = Promise.all([
        postJson(origin, '/v1/embeddings', embedBody(inputs)),
        postJson(origin, '/v1/chat/completions', chatBody),
        postJson(origin, '/v1/tokenize', tokenizeBody),
      ])
      let other: Promise<{ status: number }> | null = null
      if (evict) {
        // Past the router's 500 ms grace for fresh requests: only the lease keeps alpha loaded now.
        await new Promise((r) => setTimeout(r, 700))
        other = postJson(origin, '/v1/chat/completions', { ...chatBody, model: 'beta', max_tokens: 2 })
      } else {
        // Longer than the ttl (1 s) and its sweep: alpha must stay loaded while the embeddings run.
        await new Promise((r) => setTimeout(r, 1600))
        expect(await state('alpha')).toBe('ready')
      }
      const [embedded, chatted, tokenized] = await work
      expect([embedded.status, chatted.status, tokenized.status]).toEqual([200, 200, 200])
      expectSameVectors((embedded.json.data as Array<{ embedding: number[] }>).map((d) => d.embedding), vectors)
      expect(chatted.json.choices[0].message.content).toBe(chat.json.choices[0].message.content)
      expect(tokenized.json.tokens).toEqual(tokens.json.tokens)
      if (other) expect((await other).status).toBe(200)
      else await waitFor(async () => (await state('alpha')) === 'unloaded')
      expect(run.child.exitCode).toBeNull()
    }

    const metrics = await scrape(origin)
    expect(value(metrics, 'gguf_serve_model_unloads_total', { model: 'alpha', reason: 'evicted' })).toBeGreaterThanOrEqual(ITERATIONS / 2)
    expect(value(metrics, 'gguf_serve_model_unloads_total', { model: 'alpha', reason: 'ttl' })).toBeGreaterThanOrEqual(ITERATIONS / 2)
    expect(value(metrics, 'gguf_serve_work_requests_total', { model: 'alpha', kind: 'embed', outcome: 'ok' })).toBeGreaterThanOrEqual(ITERATIONS)
    expect((await fetch(`${origin}/health`)).status).toBe(200)
    expect(run.child.exitCode).toBeNull()
  }, 600_000)
})

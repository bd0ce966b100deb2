import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { cliRunner, waitHealthy, type CliRun } from '../helpers/cli-process.js'
import { TINY_MODEL_PATH } from '../helpers/models.js'
import { sseEvents } from '../helpers/sse.js'
import { postJson } from '../helpers/test-server.js'
import { errorBodyProblems } from './answer-checks.js'
import { logProblems, parseLogLines } from './log-capture.js'
import { expectIdle } from './server-state.js'

// Every fault runs against a real `gguf-serve start` process: a fault that kills the server shows as its exit.
const runCli = cliRunner()

async function serve(args: string[]): Promise<{ run: CliRun; origin: string }> {
  const run = runCli(args)
  const origin = await run.url
  await waitHealthy(origin, 60_000)
  return { run, origin }
}

/** Error-level log lines each fault is expected to cause; any other is a finding. */
const EXPECTED: Record<string, RegExp[]> = {
  // llama.cpp says why it cannot load the damaged file: the operator's clue.
  damagedModel: [/"component":"llama\.cpp".*(error loading model|failed to load model)/],
  engineFailure: [],
}

const tmp = () => mkdtempSync(join(tmpdir(), 'gguf-serve-faults-'))
const chat = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: 'Tell me a story' }], max_tokens: 8, ...extra })

interface StreamEnd {
  status: number
  done: boolean
  finishReason: string | null
  errorEvent: unknown
}

/** Reads a streamed chat answer to its end; `onFirstChunk` runs once the first bytes are in. */
async function readStream(origin: string, body: object, onFirstChunk?: () => void): Promise<StreamEnd> {
  const response = await fetch(`${origin}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: true }),
  })
  if (response.status !== 200) return { status: response.status, done: false, finishReason: null, errorEvent: await response.json() }
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  let text = ''
  for (let first = true; ; first = false) {
    const { done, value } = await reader.read()
    if (done) break
    text += decoder.decode(value, { stream: true })
    if (first) onFirstChunk?.()
  }
  const events = sseEvents(text)
  const chunks = events.filter((e) => e !== '[DONE]')
  return {
    status: 200,
    done: events.at(-1) === '[DONE]',
    finishReason: chunks.flatMap((c) => c.choices ?? []).find((c: { finish_reason: string | null }) => c.finish_reason)?.finish_reason ?? null,
    errorEvent: chunks.find((c) => c.error) ?? null,
  }
}

describe('a model file damaged after start', () => {
  it('fails requests for that model with 503 model_load_failed (no path), serves the others, and recovers once the file is back', async () => {
    const dir = tmp()
    const [a, b] = [join(dir, 'model-a.gguf'), join(dir, 'model-b.gguf')]
    copyFileSync(TINY_MODEL_PATH, a)
    copyFileSync(TINY_MODEL_PATH, b)
    const config = join(dir, 'config.yaml')
    writeFileSync(config, `
server:
  port: 0
models:
  - id: a
    source: ${JSON.stringify(a)}
    threads: 1
    contextSize: 512
    parallel: 2
  - id: b
    source: ${JSON.stringify(b)}
    threads: 1
    contextSize: 512
    parallel: 1
    preload: false
`)
    const { run, origin } = await serve(['start', '--config', config])
    // a is loaded: its weights are in memory, so losing its file does not matter.
    rmSync(a)

    const damages: Array<[string, () => void]> = [
      ['truncated', () => writeFileSync(b, readFileSync(TINY_MODEL_PATH).subarray(0, 100_000))],
      ['not GGUF any more', () => writeFileSync(b, Buffer.concat([Buffer.from('garbage!'), readFileSync(TINY_MODEL_PATH).subarray(8)]))],
      ['emptied', () => writeFileSync(b, '')],
      ['deleted', () => rmSync(b)],
    ]
    for (const [damage, apply] of damages) {
      apply()
      const [forA, forB] = await Promise.all([
        Promise.all(Array.from({ length: 4 }, () => postJson(origin, '/v1/chat/completions', chat('a')))),
        Promise.all(Array.from({ length: 3 }, () => postJson(origin, '/v1/chat/completions', chat('b')))),
      ])
      for (const res of forA) expect(res.status, `model a while b is ${damage}`).toBe(200)
      for (const res of forB) {
        expect(res.status, `model b ${damage}`).toBe(503)
        expect(res.json.error.code, `model b ${damage}`).toBe('model_load_failed')
        expect(errorBodyProblems(res.text, '', [dir, 'model-b.gguf'])).toEqual([])
      }
      expect((await fetch(`${origin}/health`)).status).toBe(200)
    }

    copyFileSync(TINY_MODEL_PATH, b)
    const restored = await postJson(origin, '/v1/chat/completions', chat('b'))
    expect(restored.status).toBe(200)
    expect(restored.json.choices[0].message.content).toEqual(expect.any(String))
    await expectIdle(origin)
    expect(run.child.exitCode).toBeNull()
    // The cause is in the log for the operator.
    expect(run.output()).toMatch(/model-b\.gguf/)
    expect(logProblems(parseLogLines(run.output()), EXPECTED.damagedModel)).toEqual([])
  })
})

describe('SIGTERM with streams in flight', () => {
  it('lets running streams finish or end cleanly, refuses new requests while draining, and exits 0', async () => {
    const dir = tmp()
    const model = join(dir, 'tiny.gguf')
    copyFileSync(TINY_MODEL_PATH, model)
    const { run, origin } = await serve(['start', '--model', model, '--port', '0', '--threads', '1', '--context-size', '1024', '--parallel', '3'])

    let started = 0
    let signalled!: () => void
    const allStarted = new Promise<void>((resolve) => (signalled = resolve))
    const onFirstChunk = () => {
      if (++started === 3) signalled()
    }
    const long = (seed: number) => ({ model: 'tiny', messages: [{ role: 'user', content: 'Go on for a while' }], max_tokens: 300, ignore_eos: true, seed })
    const streams = [1, 2, 3].map((seed) => readStream(origin, long(seed), onFirstChunk))
    // Two more wait in the queue (three slots) and one is not streamed.
    const queued = [4, 5].map((seed) => readStream(origin, long(seed)))
    const unstreamed = postJson(origin, '/v1/chat/completions', long(6))
    await allStarted
    run.child.kill('SIGTERM')

    // New requests while draining: 503 in the envelope, or refused once the port is closed.
    await new Promise((r) => setTimeout(r, 100))
    const during = await postJson(origin, '/v1/chat/completions', chat('tiny')).catch((error: unknown) => ({ status: 0, text: String(error), json: null }))
    if (during.status !== 0) {
      expect(during.status).toBe(503)
      expect(errorBodyProblems(during.text)).toEqual([])
    }

    for (const end of await Promise.all(streams)) {
      expect(end.status).toBe(200)
      // Finished with [DONE] and a finish_reason, or ended by an error event in the envelope: never cut mid-frame.
      if (end.done) expect(end.finishReason).toMatch(/^(stop|length)$/)
      else expect(end.errorEvent).toMatchObject({ error: { message: expect.any(String) } })
    }
    for (const end of await Promise.all(queued)) {
      if (end.status === 200) expect(end.done || end.errorEvent !== null).toBe(true)
      else expect(end.status).toBe(503)
    }
    const plain = await unstreamed
    expect([200, 503]).toContain(plain.status)
    if (plain.status !== 200) expect(errorBodyProblems(plain.text)).toEqual([])

    expect(await run.exited).toBe(0)
    expect(run.output()).toContain('shutting down')
    // The streams need a second or two: waiting out server.shutdownGraceMs (30 s) means a connection held the exit.
    expect(run.output()).not.toContain('grace period')
    expect(logProblems(parseLogLines(run.output()))).toEqual([])
  })
})

describe('an engine failure inside one request', () => {
  // llama.cpp accepts this GBNF (an inverted range) but its sampler fails on it at the first token.
  const FAILING_GRAMMAR = { type: 'grammar', grammar: 'root ::= [z-a]' }

  it('fails only that request: the others finish normally and the server stays healthy', async () => {
    const dir = tmp()
    const model = join(dir, 'tiny.gguf')
    copyFileSync(TINY_MODEL_PATH, model)
    const { run, origin } = await serve(['start', '--model', model, '--port', '0', '--threads', '1', '--context-size', '1024', '--parallel', '4'])

    let firstChunk!: () => void
    const running = new Promise<void>((resolve) => (firstChunk = resolve))
    const others = [1, 2, 3].map((seed) =>
      readStream(origin, { model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 100, ignore_eos: true, seed }, firstChunk).catch(
        (error: unknown) => ({ status: 0, errorEvent: String(error), done: false, finishReason: null }),
      ),
    )
    await running
    const [failed, failedStream] = await Promise.all([
      postJson(origin, '/v1/chat/completions', chat('tiny', { response_format: FAILING_GRAMMAR })).catch((error: unknown) => ({ status: 0, text: String(error), json: null })),
      readStream(origin, chat('tiny', { response_format: FAILING_GRAMMAR })).catch((error: unknown) => ({ status: 0, errorEvent: String(error), done: false, finishReason: null })),
    ])

    await new Promise((r) => setTimeout(r, 200))
    expect(run.child.exitCode, `the server died:\n${run.output().slice(-1500)}`).toBeNull()
    // The failing request gets an error in the envelope (a 4xx or a 500 engine_error), not a dead connection.
    expect(failed.status, failed.text).toBeGreaterThanOrEqual(400)
    expect(errorBodyProblems(failed.text, '', [dir])).toEqual([])
    expect(failedStream.status === 200 ? failedStream.errorEvent : failedStream.status >= 400).toBeTruthy()
    for (const end of await Promise.all(others)) {
      expect(end).toMatchObject({ status: 200, done: true, finishReason: 'length' })
    }
    await expectIdle(origin)
    expect((await postJson(origin, '/v1/chat/completions', chat('tiny'))).status).toBe(200)
    expect(logProblems(parseLogLines(run.output()), EXPECTED.engineFailure)).toEqual([])
  })
})

describe('a request whose own chat_template does a million iterations', () => {
  it('does not stall everyone else: /health keeps answering while it is handled', async () => {
    const dir = tmp()
    const model = join(dir, 'tiny.gguf')
    copyFileSync(TINY_MODEL_PATH, model)
    const { run, origin } = await serve(['start', '--model', model, '--port', '0', '--threads', '1', '--context-size', '1024'])
    const heavy = postJson(origin, '/v1/chat/completions', chat('tiny', { chat_template: '{% for i in range(1000000) %}x{% endfor %}' }))
    await new Promise((r) => setTimeout(r, 300))
    const probeStarted = performance.now()
    const health = await fetch(`${origin}/health`)
    const probeMs = performance.now() - probeStarted
    expect(health.status).toBe(200)
    // Not a speed check: a liveness probe (Kubernetes waits 1 s by default) must not see a frozen server.
    expect(probeMs, 'the event loop was blocked rendering the template').toBeLessThan(5_000)
    const res = await heavy
    expect(res.status).toBeLessThan(500)
    expect(errorBodyProblems(res.text, '', [dir])).toEqual([])
    expect(run.child.exitCode).toBeNull()
    expect(logProblems(parseLogLines(run.output()))).toEqual([])
  })
})

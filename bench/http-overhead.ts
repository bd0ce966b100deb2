/**
 * The HTTP path's own cost, with autocannon against the built server on a tiny model (compute nearly nil):
 *
 *   npm run build && npx tsx bench/http-overhead.ts [model.gguf] [--out http.json]
 *
 * 1. `GET /health`, `GET /v1/models` and non-streamed `max_tokens: 1` chat requests: req/s, mean and p99
 *    latency (autocannon, CONNECTIONS connections, DURATION_S seconds each; chat with as many connections
 *    as slots).
 * 2. Overhead of one `max_tokens: 1` chat request beyond the engine's own time, in interleaved ROUNDS:
 *    autocannon with one connection sends the requests back to back, so its mean time per request is
 *    duration ÷ requests (client and server included); then the same request runs ENGINE_REQUESTS times
 *    on node-llama-cpp in this process (`RawEngineTarget`: the same model, threads, slots and context,
 *    the prompt already rendered and tokenized, one sequence cleared and evaluated, one token sampled).
 *    Overhead = HTTP mean − engine mean: routing, validation, template and tokenizer, scheduler, JSON.
 * Default model: the `tiny` preset, written to bench/models/ on first use. The JSON (`--out`) feeds
 * `gguf-serve bench --readme README.md --http-report http.json`.
 */
import { writeFileSync } from 'node:fs'
import { basename } from 'node:path'
import autocannon from 'autocannon'
import { RawEngineTarget } from '../src/bench/raw-engine.js'
import type { HttpOverheadReport } from '../src/bench/readme-results.js'
import { thisMachine } from '../src/bench/report.js'
import type { BenchRequest } from '../src/bench/workload.js'
import { ensureSyntheticModel } from '../src/gguf/make-model.js'
import { repoRoot, startServerProcess } from './lib/server-process.js'

const DURATION_S = Number(process.env.DURATION_S ?? 10)
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 10)
const ROUNDS = Number(process.env.ROUNDS ?? 3)
const ENGINE_REQUESTS = Number(process.env.ENGINE_REQUESTS ?? 2000)
const PARALLEL = 4
const THREADS = 1
/** The server's default context (4096) capped at the tiny model's training context, as the server does. */
const CONTEXT_SIZE = 2048

const args = process.argv.slice(2)
const outIndex = args.indexOf('--out')
const out = outIndex >= 0 ? args.splice(outIndex, 2)[1] : undefined
const modelPath = args[0] ?? (await ensureSyntheticModel(`${repoRoot}bench/models/synthetic-tiny.gguf`, 'tiny', { seed: 7 }))
const prompt = 'Hello, how are you today?'
const chatBody = JSON.stringify({ model: '', messages: [{ role: 'user', content: prompt }], max_tokens: 1, temperature: 0 })

const server = await startServerProcess(['--model', modelPath, '--parallel', String(PARALLEL), '--threads', String(THREADS)])
const engine = await RawEngineTarget.open('engine', { modelPath, threads: THREADS, parallel: PARALLEL, contextSize: CONTEXT_SIZE, batchSize: 512 })
try {
  const cannon = (path: string, connections: number, post = false, duration = DURATION_S) =>
    autocannon({
      url: `${server.origin}${path}`,
      connections,
      duration,
      ...(post ? { method: 'POST' as const, headers: { 'content-type': 'application/json' }, body: chatBody } : {}),
    })
  const checked = (name: string, connections: number, result: autocannon.Result) => {
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`${name}: ${result.non2xx} non-2xx responses, ${result.errors} errors`)
    const requestsPerS = result['2xx'] / result.duration
    process.stderr.write(`${name} × ${connections}: ${requestsPerS.toFixed(0)} req/s, p99 ${result.latency.p99} ms\n`)
    return { name, connections, requestsPerS, meanMs: result.latency.mean, p99Ms: result.latency.p99 }
  }
  // Warm-up (JIT, connection pools, the first requests' allocations), not measured.
  await cannon('/health', CONNECTIONS, false, 1)
  await cannon('/v1/models', CONNECTIONS, false, 1)
  await cannon('/v1/chat/completions', PARALLEL, true, 1)
  const endpoints = [
    checked('GET /health', CONNECTIONS, await cannon('/health', CONNECTIONS)),
    checked('GET /v1/models', CONNECTIONS, await cannon('/v1/models', CONNECTIONS)),
    checked('POST /v1/chat/completions, max_tokens 1', PARALLEL, await cannon('/v1/chat/completions', PARALLEL, true)),
  ]

  const oneToken: BenchRequest = { index: 0, prompt, outputTokens: 1, seed: 0, temperature: 0 }
  const plan = { level: { kind: 'concurrency' as const, concurrency: 1 }, requests: new Array<BenchRequest>(ENGINE_REQUESTS).fill(oneToken), arrivalsMs: null }
  let httpMs = 0
  let httpRequests = 0
  let engineMs = 0
  let engineRequests = 0
  for (let round = 0; round < ROUNDS; round++) {
    const http = await cannon('/v1/chat/completions', 1, true)
    if (http.non2xx > 0 || http.errors > 0) throw new Error(`one-token requests failed: ${http.non2xx} non-2xx, ${http.errors} errors`)
    httpMs += http.duration * 1000
    httpRequests += http['2xx']
    const run = await engine.run(plan, () => {})
    engineMs += run.results.reduce((sum, r) => sum + r.timing!.endMs - r.timing!.startMs, 0)
    engineRequests += run.results.length
    process.stderr.write(
      `round ${round + 1}/${ROUNDS}: HTTP ${((http.duration * 1000) / http['2xx']).toFixed(3)} ms, engine ${(engineMs / engineRequests).toFixed(3)} ms per request\n`,
    )
  }
  const httpMeanMs = httpMs / httpRequests
  const engineMeanMs = engineMs / engineRequests
  const report: HttpOverheadReport = {
    command: `npx tsx bench/http-overhead.ts ${process.argv.slice(2).join(' ')}`.trim(),
    machine: thisMachine(),
    model: basename(modelPath),
    parallel: PARALLEL,
    threads: THREADS,
    endpoints,
    oneToken: { httpMeanMs, engineMeanMs, overheadMs: httpMeanMs - engineMeanMs },
  }
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
  if (out) writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`)
} finally {
  server.stop()
  await engine.close()
}

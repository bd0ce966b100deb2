/**
 * One sequence's decode step, alone: the native `decodeBatch` of one token, timed from JavaScript, with
 * nothing else running (no sampling, no server), in child processes that differ only in the size of
 * Node's libuv thread pool (`UV_THREADPOOL_SIZE`), where node-llama-cpp runs every native call.
 *
 *   npx tsx bench/decode-threads.ts [model.gguf]
 *
 * Default model: `qwen05b-152k` (bench/models/, written on first use). Env: POOLS ("1,2,4"), THREADS (2),
 * STEPS (63), ROUNDS (3). Prints p10 / p50 / p90 / mean per pool size over all rounds.
 *
 * Internal API: `initBatch`, `addToBatch` and `decodeBatch` on the context's native object are what
 * node-llama-cpp's own batch dispatch calls for every step.
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { getLlama, LlamaLogLevel } from 'node-llama-cpp'
import { ensureSyntheticModel } from '../src/gguf/make-model.js'
import { repoRoot as root } from './lib/server-process.js'

const THREADS = Number(process.env.THREADS ?? 2)
const STEPS = Number(process.env.STEPS ?? 63)
const ROUNDS = Number(process.env.ROUNDS ?? 3)
const PROMPT = 200

interface NativeContext {
  initBatch(tokens: number): void
  addToBatch(sequenceId: number, firstTokenIndex: number, tokens: Uint32Array, logitIndexes: Uint32Array): void
  decodeBatch(): Promise<void>
  disposeSequence(sequenceId: number): void
}

/** Child: decode steps of one sequence after a 200-token prompt; prints the step times as JSON. */
async function measure(modelPath: string): Promise<void> {
  const llama = await getLlama({ build: 'never', maxThreads: THREADS, gpu: false, logLevel: LlamaLogLevel.warn })
  const model = await llama.loadModel({ modelPath })
  const context = await model.createContext({ contextSize: 2048, sequences: 4, threads: THREADS, batchSize: 512 })
  const native = (context as unknown as { _ctx: NativeContext })._ctx
  const times: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    native.disposeSequence(0)
    native.initBatch(PROMPT)
    native.addToBatch(0, 0, Uint32Array.from({ length: PROMPT }, (_, i) => 100 + ((i * 7) % 500)), Uint32Array.from([PROMPT - 1]))
    await native.decodeBatch()
    for (let step = 0; step < STEPS; step++) {
      native.initBatch(1)
      native.addToBatch(0, PROMPT + step, Uint32Array.from([300 + step]), Uint32Array.from([0]))
      const started = performance.now()
      await native.decodeBatch()
      times.push(performance.now() - started)
    }
  }
  process.stdout.write(JSON.stringify(times))
  process.exit(0)
}

const percentile = (sorted: number[], p: number) => sorted[Math.floor(p * (sorted.length - 1))]!

if (process.env.DECODE_THREADS_CHILD) {
  await measure(process.env.DECODE_THREADS_CHILD)
} else {
  const modelPath = process.argv[2] ?? (await ensureSyntheticModel(`${root}bench/models/synthetic-qwen05b-152k.gguf`, 'qwen05b-152k', { seed: 7 }))
  console.log(`| UV_THREADPOOL_SIZE | decode p10 / p50 / p90 / mean (ms), ${THREADS} threads |\n|---|---|`)
  for (const pool of (process.env.POOLS ?? '1,2,4').split(',')) {
    const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
      env: { ...process.env, UV_THREADPOOL_SIZE: pool, DECODE_THREADS_CHILD: modelPath },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const times = (JSON.parse(child.stdout) as number[]).sort((a, b) => a - b)
    const mean = times.reduce((sum, t) => sum + t, 0) / times.length
    console.log(`| ${pool} | ${[0.1, 0.5, 0.9].map((p) => percentile(times, p).toFixed(1)).join(' / ')} / ${mean.toFixed(1)} |`)
  }
}

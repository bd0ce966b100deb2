/**
 * What one sampled token costs in node-llama-cpp's native sampler, per sampler configuration, on fixed
 * logits: the decode is done once, then the same logits are sampled again and again, so the figures hold
 * only sampling (and the addon's copy of the logits into its candidate array), not the model.
 *
 *   npx tsx bench/sampling-cost.ts [model.gguf]
 *
 * Default model: the generated Qwen2.5-0.5B shape with its real 151,936-token vocabulary
 * (`qwen05b-152k`, bench/models/, written on first use). Per configuration: wall time per call (min and
 * median) and the process's CPU time per call (user + system, all threads: it is the sampling worker's
 * time plus a little event-loop work, and unlike wall time it does not grow when other processes take
 * the cores). Env: CALLS (200), ROUNDS (2).
 *
 * Internal API: `sampleToken` on the context's native object and the `LlamaSampler` class are not
 * exported by node-llama-cpp; they are the very calls its `evaluate()` makes for every token.
 */
import { getLlama, type LlamaModel, type Token } from 'node-llama-cpp'
import { Vocabulary } from '../src/engine/vocabulary.js'
import { ensureSyntheticModel } from '../src/gguf/make-model.js'
import { repoRoot as root } from './lib/server-process.js'

const CALLS = Number(process.env.CALLS ?? 200)
const ROUNDS = Number(process.env.ROUNDS ?? 2)
const modelPath = process.argv[2] ?? (await ensureSyntheticModel(`${root}bench/models/synthetic-qwen05b-152k.gguf`, 'qwen05b-152k', { seed: 7 }))

interface NativeSampler {
  _sampler: unknown
  applyConfig(config: Record<string, unknown>): void
  dispose(): void
}
type SamplerClass = new (model: LlamaModel) => NativeSampler
const { LlamaSampler } = (await import(
  new URL('evaluator/LlamaContext/LlamaSampler.js', import.meta.resolve('node-llama-cpp')).href
)) as { LlamaSampler: SamplerClass }

/** What the server sends for each OpenAI request shape (temperature 0 = greedy; no top_k = no top-k sampler). */
const CONFIGS: Record<string, Record<string, unknown>> = {
  'temperature 0 (greedy)': { temperature: 0 },
  'temperature 0.7 (OpenAI default: full distribution)': { temperature: 0.7, topP: 1 },
  'temperature 1 (full distribution)': { temperature: 1, topP: 1 },
  'temperature 0.7, top_k 40': { temperature: 0.7, topK: 40, topP: 1 },
  'temperature 0.7, top_p 0.95': { temperature: 0.7, topP: 0.95 },
  'temperature 0.7, min_p 0.05': { temperature: 0.7, topP: 1, minP: 0.05 },
  'temperature 0.7, top_k = vocabulary (what top_k 0 would do)': { temperature: 0.7, topK: 1 << 30, topP: 1 },
}

const llama = await getLlama({ build: 'never', maxThreads: 1, gpu: false })
const model = await llama.loadModel({ modelPath })
const context = await model.createContext({ contextSize: 512, sequences: 1, threads: 1 })
const native = (context as unknown as { _ctx: { sampleToken(batchLogitIndex: number, sampler: unknown): Promise<number> } })._ctx
const sequence = context.getSequence()
const tokens = sequence.evaluate(model.tokenize('The quick brown fox jumps over the lazy dog, again and again.') as Token[], { temperature: 0 })
await tokens.next()
await tokens.next() // the last batch held one token: its logits are at batch index 0

console.log(`${modelPath}: ${new Vocabulary(model).size}-token vocabulary, ${CALLS} calls per configuration`)
const rows = new Map<string, string[]>()
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, config] of Object.entries(CONFIGS)) {
    const sampler = new LlamaSampler(model)
    sampler.applyConfig({ ...config, seed: 1 })
    await native.sampleToken(0, sampler._sampler) // builds the chain
    const wall: number[] = []
    const cpuStart = process.cpuUsage()
    for (let i = 0; i < CALLS; i++) {
      const start = performance.now()
      await native.sampleToken(0, sampler._sampler)
      wall.push(performance.now() - start)
    }
    const cpu = process.cpuUsage(cpuStart)
    sampler.dispose()
    wall.sort((a, b) => a - b)
    const cell = `${wall[0]!.toFixed(3)} / ${wall[wall.length >> 1]!.toFixed(3)} / ${((cpu.user + cpu.system) / 1000 / CALLS).toFixed(3)}`
    rows.set(name, [...(rows.get(name) ?? []), cell])
  }
}
console.log(`| configuration | ms per token: wall min / wall p50 / CPU, round 1 … ${ROUNDS} |\n|---|---|`)
for (const [name, cells] of rows) console.log(`| ${name} | ${cells.join(' · ')} |`)
await tokens.return()
await context.dispose()
await model.dispose()

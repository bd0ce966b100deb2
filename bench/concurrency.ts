/**
 * Aggregate output tokens/s at several concurrencies, to show continuous batching at work.
 *
 *   npm run build && npx tsx bench/concurrency.ts [model.gguf]
 *
 * Default model: a generated Qwen2.5-0.5B-shaped llama (896 hidden, 24 layers, 14/2 heads, Q8_0; random
 * weights, written to bench/models/ on first use). The server runs with `--parallel 8` and its default
 * threads. For each concurrency c, c streamed requests are sent at once (different seeds, prompts of
 * PROMPT_SENTENCES sentences, `ignore_eos` so each yields exactly MAX_TOKENS tokens); the figure is all output tokens ÷ the
 * wall time from sending to the last token, prefill included. ROUNDS rounds, interleaved by
 * concurrency; medians.
 */
import OpenAI from 'openai'
import { ensureSyntheticModel } from '../src/gguf/make-model.js'
import { median, repoRoot as root, startServerProcess } from './lib/server-process.js'

const ROUNDS = Number(process.env.ROUNDS ?? 2)
const MAX_TOKENS = Number(process.env.MAX_TOKENS ?? 64)
const CONCURRENCIES = (process.env.CONCURRENCIES ?? '1,2,4,8').split(',').map(Number)
/** Prompt length, in sentences of about 15 tokens each (1 ≈ a 35-token chat prompt with the template). */
const PROMPT_SENTENCES = Number(process.env.PROMPT_SENTENCES ?? 1)
const model =
  process.argv[2] ?? (await ensureSyntheticModel(`${root}bench/models/synthetic-qwen05b-shape.gguf`, 'qwen05b-shape', { seed: 7 }))

const server = await startServerProcess(['--model', model, '--parallel', String(Math.max(...CONCURRENCIES))])
const client = new OpenAI({ baseURL: `${server.origin}/v1`, apiKey: 'x', maxRetries: 0, timeout: 600_000 })

async function one(seed: number): Promise<{ tokens: number; ttftMs: number }> {
  const prompt = `Request ${seed}. ` + Array.from({ length: PROMPT_SENTENCES }, (_, i) => `Sentence ${i} about llamas and alpacas on a hill.`).join(' ')
  const sent = performance.now()
  const stream = await client.chat.completions.create({
    model: '',
    messages: [{ role: 'user', content: prompt }],
    max_tokens: MAX_TOKENS,
    temperature: 1,
    seed,
    stream: true,
    stream_options: { include_usage: true },
    ignore_eos: true,
  } as never)
  let ttftMs = 0
  let tokens = 0
  for await (const chunk of stream as unknown as AsyncIterable<OpenAI.ChatCompletionChunk>) {
    if (!ttftMs && chunk.choices[0]?.delta.content) ttftMs = performance.now() - sent
    if (chunk.usage) tokens = chunk.usage.completion_tokens
  }
  return { tokens, ttftMs }
}

const results = new Map<number, { tps: number[]; ttft: number[] }>(CONCURRENCIES.map((c) => [c, { tps: [], ttft: [] }]))
await one(0) // warm-up
let seed = 1
for (let round = 0; round < ROUNDS; round++) {
  for (const c of CONCURRENCIES) {
    const start = performance.now()
    const runs = await Promise.all(Array.from({ length: c }, () => one(seed++)))
    const seconds = (performance.now() - start) / 1000
    const r = results.get(c)!
    r.tps.push(runs.reduce((sum, x) => sum + x.tokens, 0) / seconds)
    r.ttft.push(...runs.map((x) => x.ttftMs))
    process.stderr.write(`round ${round + 1}, concurrency ${c}: ${(r.tps.at(-1) ?? 0).toFixed(1)} tok/s\n`)
  }
}
server.stop()

const base = median(results.get(CONCURRENCIES[0]!)!.tps)
console.log(`model: ${model.split('/').at(-1)}, prompt of ${PROMPT_SENTENCES} sentence(s), ${MAX_TOKENS} output tokens per request, ${ROUNDS} rounds, medians`)
console.log('| concurrency | output tok/s (aggregate) | × concurrency 1 | TTFT p50 (ms) |')
console.log('|---|---|---|---|')
for (const c of CONCURRENCIES) {
  const r = results.get(c)!
  console.log(`| ${c} | ${median(r.tps).toFixed(1)} | ${(median(r.tps) / base).toFixed(2)} | ${median(r.ttft).toFixed(0)} |`)
}

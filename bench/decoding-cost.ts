/**
 * What logprobs and n cost, measured side by side on one server (these machines are noisy: compare the
 * ratios, which come from interleaved runs, not the absolute numbers).
 *
 *   npm run build && npx tsx bench/decoding-cost.ts [model.gguf]
 *
 * Default model: a generated ~100M-parameter llama (bench/models/, written on first use).
 * - per-token decode time of a streamed request, plain vs `logprobs: true, top_logprobs: 5`;
 * - one `n: 4` request vs four concurrent `n: 1` requests of the same prompt: wall time for all tokens.
 * Every request uses `ignore_eos`, so all produce exactly MAX_TOKENS tokens per choice.
 */
import OpenAI from 'openai'
import { ensureSyntheticModel } from '../src/gguf/make-model.js'
import { median, repoRoot as root, startServerProcess } from './lib/server-process.js'

const ROUNDS = Number(process.env.ROUNDS ?? 5)
const MAX_TOKENS = Number(process.env.MAX_TOKENS ?? 64)
const model = process.argv[2] ?? (await ensureSyntheticModel(`${root}bench/models/synthetic-100m.gguf`, '100m', { seed: 7 }))
const prompt = Array.from({ length: 12 }, (_, i) => `Line ${i}: the quick brown fox jumps over the lazy dog.`).join(' ')

const server = await startServerProcess(['--model', model, '--parallel', '4'])
const client = new OpenAI({ baseURL: `${server.origin}/v1`, apiKey: 'x', maxRetries: 0 })
const base = { model: '', messages: [{ role: 'user' as const, content: prompt }], max_tokens: MAX_TOKENS, temperature: 1, ignore_eos: true }

/** Milliseconds per decoded token after the first, from the arrival times of streamed chunks. */
async function msPerToken(extra: Record<string, unknown>, seed: number): Promise<number> {
  const stream = await client.chat.completions.create({ ...base, ...extra, seed, stream: true, stream_options: { include_usage: true } } as never)
  let first = 0
  let last = 0
  let tokens = 0
  for await (const chunk of stream as unknown as AsyncIterable<OpenAI.ChatCompletionChunk>) {
    if (chunk.choices[0]?.delta.content !== undefined && chunk.choices[0].delta.role === undefined) {
      last = performance.now()
      first ||= last
    }
    if (chunk.usage) tokens = chunk.usage.completion_tokens
  }
  return (last - first) / (tokens - 1)
}

async function wallMs(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now()
  await run()
  return performance.now() - start
}

const plain: number[] = []
const logprobs: number[] = []
const nFour: number[] = []
const fourSeparate: number[] = []
await msPerToken({}, 0) // warm-up
for (let round = 0; round < ROUNDS; round++) {
  plain.push(await msPerToken({}, round))
  logprobs.push(await msPerToken({ logprobs: true, top_logprobs: 5 }, round))
  nFour.push(await wallMs(() => client.chat.completions.create({ ...base, n: 4, seed: round } as never)))
  fourSeparate.push(await wallMs(() => Promise.all([0, 1, 2, 3].map((i) => client.chat.completions.create({ ...base, seed: round * 4 + i } as never)))))
  process.stderr.write(`round ${round + 1}/${ROUNDS}\n`)
}
server.stop()

const [p, l, n4, s4] = [median(plain), median(logprobs), median(nFour), median(fourSeparate)]
console.log(`model: ${model.split('/').at(-1)}, ${MAX_TOKENS} tokens per choice, ${ROUNDS} interleaved rounds, medians`)
console.log(`| measure | value |`)
console.log(`|---|---|`)
console.log(`| decode ms/token, plain | ${p.toFixed(2)} |`)
console.log(`| decode ms/token, logprobs + top_logprobs 5 | ${l.toFixed(2)} |`)
console.log(`| logprobs extra cost per token | ${(l - p).toFixed(2)} ms (${((l / p - 1) * 100).toFixed(1)} %) |`)
console.log(`| n: 4, one request, wall ms | ${n4.toFixed(0)} |`)
console.log(`| 4 concurrent n: 1 requests, wall ms | ${s4.toFixed(0)} |`)
console.log(`| n: 4 ÷ 4 separate | ${(n4 / s4).toFixed(3)} |`)

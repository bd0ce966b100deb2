/**
 * Embeddings throughput: 64 short inputs in one request against 64 requests (sent at once), on one
 * server, interleaved rounds.
 *
 *   npm run build && npx tsx bench/embeddings.ts [model.gguf]
 *
 * Default model: the generated ~100M-parameter llama (bench/models/, written on first use).
 */
import OpenAI from 'openai'
import { ensureSyntheticModel } from '../src/gguf/make-model.js'
import { median, repoRoot, startServerProcess } from './lib/server-process.js'

const ROUNDS = Number(process.env.ROUNDS ?? 5)
const INPUTS = Number(process.env.INPUTS ?? 64)
const model = process.argv[2] ?? (await ensureSyntheticModel(`${repoRoot}bench/models/synthetic-100m.gguf`, '100m', { seed: 7 }))
const server = await startServerProcess(['--model', model])
const client = new OpenAI({ baseURL: `${server.origin}/v1`, apiKey: 'x', maxRetries: 0, timeout: 600_000 })
const inputs = Array.from({ length: INPUTS }, (_, i) => `Short sentence number ${i} about a llama.`)

async function inputsPerSecond(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now()
  await run()
  return (INPUTS * 1000) / (performance.now() - start)
}

const batched: number[] = []
const separate: number[] = []
await client.embeddings.create({ model: '', input: inputs.slice(0, 2), encoding_format: 'float' }) // warm-up: creates the context
for (let round = 0; round < ROUNDS; round++) {
  batched.push(await inputsPerSecond(() => client.embeddings.create({ model: '', input: inputs, encoding_format: 'float' })))
  separate.push(await inputsPerSecond(() => Promise.all(inputs.map((input) => client.embeddings.create({ model: '', input, encoding_format: 'float' })))))
  process.stderr.write(`round ${round + 1}/${ROUNDS}\n`)
}
server.stop()

console.log(`model: ${model.split('/').at(-1)}, ${INPUTS} short inputs, ${ROUNDS} interleaved rounds, medians`)
console.log('| how | inputs/s |')
console.log('|---|---|')
console.log(`| one request with ${INPUTS} inputs | ${median(batched).toFixed(1)} |`)
console.log(`| ${INPUTS} requests at once | ${median(separate).toFixed(1)} |`)
console.log(`| ratio | ${(median(batched) / median(separate)).toFixed(2)} |`)

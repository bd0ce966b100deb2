/**
 * Start-up time and single-stream decode speed of the built server, per model.
 *
 *   npm run build && npx tsx bench/single-stream.ts [model.gguf ...]
 *
 * With no arguments it measures ../shared/models/stories260K.gguf (when present) and a generated
 * ~100M-parameter llama (written to bench/models/ on first use). For each model: spawn
 * `node dist/cli.js start`, time process start → first /health 200, then stream one chat request
 * (fixed seed) and report time to first token and decode tokens/s (tokens after the first ÷ time
 * from first to last token). Repeats `RUNS` times and reports medians.
 */
import { existsSync } from 'node:fs'
import OpenAI from 'openai'
import { ensureSyntheticModel } from '../src/gguf/make-model.js'
import { median, repoRoot as root, startServerProcess } from './lib/server-process.js'

const RUNS = Number(process.env.RUNS ?? 3)
const MAX_TOKENS = Number(process.env.MAX_TOKENS ?? 128)
/** More server flags, e.g. EXTRA_ARGS="--threads 2". */
const EXTRA_ARGS = (process.env.EXTRA_ARGS ?? '').split(' ').filter(Boolean)

async function defaultModels(): Promise<string[]> {
  const models: string[] = []
  const stories = `${root}../shared/models/stories260K.gguf`
  if (existsSync(stories)) models.push(stories)
  models.push(await ensureSyntheticModel(`${root}bench/models/synthetic-100m.gguf`, '100m', { seed: 7 }))
  return models
}

interface Run {
  startupMs: number
  ttftMs: number
  tokens: number
  decodeTokensPerS: number
}

async function measure(model: string): Promise<Run> {
  const server = await startServerProcess(['--model', model, ...EXTRA_ARGS])
  try {
    const { origin, startupMs } = server
    const client = new OpenAI({ baseURL: `${origin}/v1`, apiKey: 'x', maxRetries: 0 })
    const sent = performance.now()
    const stream = await client.chat.completions.create({
      model: '',
      messages: [{ role: 'user', content: 'Once upon a time, in a quiet village by the sea,' }],
      max_tokens: MAX_TOKENS,
      temperature: 1,
      seed: 42,
      stream: true,
      stream_options: { include_usage: true },
    })
    let first = 0
    let last = 0
    let tokens = 0
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) {
        last = performance.now()
        first ||= last
      }
      if (chunk.usage) tokens = chunk.usage.completion_tokens
    }
    return { startupMs, ttftMs: first - sent, tokens, decodeTokensPerS: ((tokens - 1) * 1000) / (last - first) }
  } finally {
    server.stop()
  }
}


const models = process.argv.length > 2 ? process.argv.slice(2) : await defaultModels()
console.log(`| model | start-up to /health 200 (ms) | TTFT (ms) | completion tokens | decode tok/s |`)
console.log(`|---|---|---|---|---|`)
for (const model of models) {
  const runs: Run[] = []
  for (let i = 0; i < RUNS; i++) runs.push(await measure(model))
  const name = model.split('/').at(-1)
  console.log(
    `| ${name} | ${median(runs.map((r) => r.startupMs)).toFixed(0)} | ${median(runs.map((r) => r.ttftMs)).toFixed(1)} | ` +
      `${median(runs.map((r) => r.tokens))} | ${median(runs.map((r) => r.decodeTokensPerS)).toFixed(1)} |`,
  )
}

/** `gguf-serve bench`: option parsing and output; the work is in load-generator.ts. */
import { writeFileSync } from 'node:fs'
import { StartupError } from '../errors.js'
import { runBench } from './load-generator.js'
import { markdownReport } from './report.js'

export interface BenchFlags {
  baseUrl: string
  apiKey?: string
  model?: string
  concurrency: string
  requests: string
  promptTokens: string
  outputTokens: string
  seed: string
  warmup: string
  out?: string
  markdown?: boolean
}

function integer(flag: string, value: string, min: number): number {
  const n = Number(value)
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min) {
    throw new StartupError(`${flag} must be an integer ≥ ${min}, got "${value}"`)
  }
  return n
}

export async function bench(flags: BenchFlags): Promise<void> {
  let baseUrl: URL
  try {
    baseUrl = new URL(flags.baseUrl)
  } catch {
    throw new StartupError(`--base-url must be an http(s) URL such as http://127.0.0.1:8080/v1, got "${flags.baseUrl}"`)
  }
  if (baseUrl.protocol !== 'http:' && baseUrl.protocol !== 'https:') throw new StartupError(`--base-url must be an http(s) URL, got "${flags.baseUrl}"`)
  const concurrencies = flags.concurrency.split(',').map((c) => integer('--concurrency', c.trim(), 1))
  const options = {
    baseUrl: flags.baseUrl,
    apiKey: flags.apiKey ?? process.env.OPENAI_API_KEY,
    model: flags.model,
    concurrencies,
    requests: integer('--requests', flags.requests, 1),
    promptTokens: integer('--prompt-tokens', flags.promptTokens, 1),
    outputTokens: integer('--output-tokens', flags.outputTokens, 1),
    seed: integer('--seed', flags.seed, 0),
    warmup: integer('--warmup', flags.warmup, 0),
  }
  const tty = process.stderr.isTTY
  const report = await runBench({
    ...options,
    progress: (line, final) => {
      if (tty) process.stderr.write(`\r\x1b[K${line}${final ? '\n' : ''}`)
      else if (final) process.stderr.write(`${line}\n`)
    },
  })
  const json = `${JSON.stringify(report, null, 2)}\n`
  if (flags.out === '-') process.stdout.write(json)
  else if (flags.out) {
    writeFileSync(flags.out, json)
    process.stderr.write(`report written to ${flags.out}\n`)
  }
  if (flags.markdown || !flags.out) (flags.out === '-' ? process.stderr : process.stdout).write(markdownReport(report))
  const errors = report.levels.reduce((sum, l) => sum + l.errors, 0)
  if (errors > 0) process.exitCode = 2
}

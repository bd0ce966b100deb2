/** `gguf-serve bench`: option parsing, the targets, and the outputs (JSON, Markdown, chart, README block). */
import { readFileSync, writeFileSync } from 'node:fs'
import { StartupError } from '../errors.js'
import { availableCpus } from '../engine/available-cpus.js'
import { SYNTHETIC_LLAMA_PRESETS, type SyntheticLlamaPresetName } from '../gguf/synthetic-llama.js'
import { chartSvg } from './chart.js'
import { ratioTables } from './compare.js'
import { BENCH_PRESETS, type BenchPreset, type BenchPresetName } from './presets.js'
import { HttpTarget } from './load-generator.js'
import { readmeResults, replaceBetweenMarkers, type HttpOverheadReport } from './readme-results.js'
import { markdownReport, thisMachine, type BenchReport } from './report.js'
import { runTargets, type TargetReport } from './runner.js'
import type { BenchTarget } from './target.js'
import type { LoadLevel } from './workload.js'

export interface BenchFlags {
  baseUrl?: string
  compareUrl?: string
  apiKey?: string
  model?: string
  engineModel?: string
  threads?: string
  parallel: string
  contextSize: string
  batchSize: string
  concurrency?: string
  requestRate?: string
  requests: string
  rounds: string
  preset?: string
  promptTokens?: string
  promptTokensRange: string
  outputTokens?: string
  outputTokensRange: string
  temperature?: string
  seed: string
  warmup: string
  out?: string
  markdown?: boolean
  chart?: string
  readme?: string
  httpReport?: string
  makeModel?: string
  fromReport?: string
}

function integer(flag: string, value: string, min: number): number {
  const n = Number(value)
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min) {
    throw new StartupError(`${flag} must be an integer ≥ ${min}, got "${value}"`)
  }
  return n
}

/** A number in [min, max], or [min, max) when `open` (a range fraction of 1 would allow zero-length requests). */
function bounded(flag: string, value: string, min: number, max: number, open = false): number {
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max || (open && n === max)) {
    throw new StartupError(`${flag} must be a number in [${min}, ${max}${open ? ')' : ']'}, got "${value}"`)
  }
  return n
}

/** The flags with the preset's values filled in where the command line gave none. */
export function applyPreset(flags: BenchFlags): BenchFlags {
  if (flags.preset === undefined) return flags
  if (!(flags.preset in BENCH_PRESETS)) {
    throw new StartupError(`--preset must be one of ${Object.keys(BENCH_PRESETS).join(', ')}, got "${flags.preset}"`)
  }
  const preset: BenchPreset = BENCH_PRESETS[flags.preset as BenchPresetName]
  return {
    ...flags,
    concurrency: flags.concurrency ?? (flags.requestRate === undefined ? preset.concurrency : undefined),
    promptTokens: flags.promptTokens ?? preset.promptTokens,
    outputTokens: flags.outputTokens ?? preset.outputTokens,
    temperature: flags.temperature ?? preset.temperature,
  }
}

function httpUrl(flag: string, value: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new StartupError(`${flag} must be an http(s) URL such as http://127.0.0.1:8080/v1, got "${value}"`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new StartupError(`${flag} must be an http(s) URL, got "${value}"`)
  return value
}

/** Concurrency levels then rate levels, in the order given; concurrency 1,2,4 when neither is given. */
export function parseLevels(concurrency: string | undefined, requestRate: string | undefined): LoadLevel[] {
  const list = (value: string | undefined) => (value === undefined ? [] : value.split(',').map((v) => v.trim()))
  const levels: LoadLevel[] = [
    ...list(concurrency ?? (requestRate === undefined ? '1,2,4' : undefined)).map((c) => ({ kind: 'concurrency' as const, concurrency: integer('--concurrency', c, 1) })),
    ...list(requestRate).map((r) => {
      const requestsPerS = Number(r)
      if (r === '' || !Number.isFinite(requestsPerS) || requestsPerS <= 0) throw new StartupError(`--request-rate must be a number > 0 (requests/s), got "${r}"`)
      return { kind: 'rate' as const, requestsPerS }
    }),
  ]
  return levels
}

/** `--make-model preset[=path]`: writes (or finds) the generated model and prints its path. */
async function makeModel(spec: string): Promise<void> {
  const [preset, path] = spec.split('=', 2) as [string, string | undefined]
  if (!(preset in SYNTHETIC_LLAMA_PRESETS)) {
    throw new StartupError(`--make-model must name a preset (${Object.keys(SYNTHETIC_LLAMA_PRESETS).join(', ')}), got "${preset}"`)
  }
  // Imported here: writing models is rare, and the writer pulls in node-llama-cpp's GGUF reader.
  const { ensureSyntheticModel } = await import('../gguf/make-model.js')
  process.stderr.write(`writing ${preset} (skipped when the file is already there)…\n`)
  // Seed 7, as the bench scripts use: the same file wherever it is made.
  const written = await ensureSyntheticModel(path ?? `bench/models/synthetic-${preset}.gguf`, preset as SyntheticLlamaPresetName, { seed: 7 })
  process.stdout.write(`${written}\n`)
}

async function openTargets(flags: BenchFlags): Promise<BenchTarget[]> {
  const apiKey = flags.apiKey ?? process.env.OPENAI_API_KEY
  const targets: BenchTarget[] = []
  if (flags.baseUrl) targets.push(await HttpTarget.open('server', httpUrl('--base-url', flags.baseUrl), apiKey, flags.model))
  if (flags.compareUrl) targets.push(await HttpTarget.open('compare', httpUrl('--compare-url', flags.compareUrl), apiKey, flags.model))
  if (flags.engineModel) {
    const settings = {
      modelPath: flags.engineModel,
      threads: flags.threads === undefined ? availableCpus() : integer('--threads', flags.threads, 1),
      parallel: integer('--parallel', flags.parallel, 1),
      contextSize: integer('--context-size', flags.contextSize, 64),
      batchSize: integer('--batch-size', flags.batchSize, 1),
    }
    try {
      // Imported here: HTTP-only runs need not load the native engine.
      const { RawEngineTarget } = await import('./raw-engine.js')
      targets.push(await RawEngineTarget.open('engine', settings))
    } catch (error) {
      throw new StartupError(`Cannot load ${flags.engineModel} for the engine run: ${(error as Error).message}`, { cause: error })
    }
  }
  if (targets.length === 0) throw new StartupError('give --base-url (and/or --compare-url, --engine-model), or --make-model')
  return targets
}

export async function bench(given: BenchFlags): Promise<void> {
  const flags = applyPreset(given)
  if (flags.makeModel) return makeModel(flags.makeModel)
  const http: HttpOverheadReport | null = flags.httpReport ? JSON.parse(readFileSync(flags.httpReport, 'utf8')) : null
  // Re-render a saved report (Markdown, chart, README block) without measuring again.
  if (flags.fromReport) return write({ ...flags, out: undefined }, JSON.parse(readFileSync(flags.fromReport, 'utf8')) as BenchReport, http)
  const options = {
    levels: parseLevels(flags.concurrency, flags.requestRate),
    requests: integer('--requests', flags.requests, 1),
    rounds: integer('--rounds', flags.rounds, 1),
    warmup: integer('--warmup', flags.warmup, 0),
    workload: {
      promptTokens: { mean: integer('--prompt-tokens', flags.promptTokens ?? '128', 1), range: bounded('--prompt-tokens-range', flags.promptTokensRange, 0, 1, true) },
      outputTokens: { mean: integer('--output-tokens', flags.outputTokens ?? '128', 1), range: bounded('--output-tokens-range', flags.outputTokensRange, 0, 1, true) },
      seed: integer('--seed', flags.seed, 0),
      temperature: bounded('--temperature', flags.temperature ?? '0', 0, 2),
    },
  }
  const startedAt = new Date().toISOString()
  const targets = await openTargets(flags)
  const tty = process.stderr.isTTY
  let reports: TargetReport[]
  try {
    reports = await runTargets(targets, {
      ...options,
      // On a terminal one line is rewritten in place; in a log only finished lines are written.
      progress: (line, final) => {
        if (tty) process.stderr.write(`\r\x1b[K${line}${final ? '\n' : ''}`)
        else if (final) process.stderr.write(`${line}\n`)
      },
    })
  } finally {
    await Promise.all(targets.map((t) => t.close()))
  }
  const report: BenchReport = {
    tool: 'gguf-serve bench',
    startedAt,
    command: `gguf-serve ${process.argv.slice(2).join(' ')}`,
    machine: thisMachine(),
    options: {
      levels: options.levels,
      requests: options.requests,
      rounds: options.rounds,
      promptTokens: options.workload.promptTokens,
      outputTokens: options.workload.outputTokens,
      seed: options.workload.seed,
      temperature: options.workload.temperature,
      ...(flags.preset ? { preset: flags.preset } : {}),
      warmup: options.warmup,
    },
    targets: reports,
    ratios: ratioTables(reports),
  }
  write(flags, report, http)
  if (report.targets.some((t) => t.levels.some((l) => l.errors > 0))) process.exitCode = 2
}

function write(flags: BenchFlags, report: BenchReport, http: HttpOverheadReport | null): void {
  const json = `${JSON.stringify(report, null, 2)}\n`
  if (flags.out === '-') process.stdout.write(json)
  else if (flags.out) {
    writeFileSync(flags.out, json)
    process.stderr.write(`report written to ${flags.out}\n`)
  }
  if (flags.chart) {
    writeFileSync(flags.chart, chartSvg(report))
    process.stderr.write(`chart written to ${flags.chart}\n`)
  }
  if (flags.readme) {
    writeFileSync(flags.readme, replaceBetweenMarkers(readFileSync(flags.readme, 'utf8'), readmeResults(report, http)))
    process.stderr.write(`results written into ${flags.readme}\n`)
  }
  if (flags.markdown || !flags.out) (flags.out === '-' ? process.stderr : process.stdout).write(markdownReport(report))
}

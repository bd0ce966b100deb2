/** The `gguf-serve bench` report: its JSON shape and its Markdown tables. */
import { availableParallelism, cpus, platform, arch } from 'node:os'
import type { RatioTable } from './compare.js'
import type { Distribution } from './metrics.js'
import type { TargetReport } from './runner.js'
import type { LengthSpec, LoadLevel } from './workload.js'

export interface Machine {
  cpu: string
  cpus: number
  platform: string
  node: string
}

export interface BenchReport {
  tool: 'gguf-serve bench'
  startedAt: string
  /** The command line that produced the report (to regenerate it). */
  command: string
  machine: Machine
  options: {
    levels: LoadLevel[]
    requests: number
    rounds: number
    promptTokens: LengthSpec
    outputTokens: LengthSpec
    seed: number
    /** Absent in reports from before it was an option: those were greedy. */
    temperature?: number
    /** The --preset the run used, if any. */
    preset?: string
    warmup: number
  }
  /** The first is the subject (--base-url), then --compare-url, then the raw engine. */
  targets: TargetReport[]
  /** The subject against each other target. */
  ratios: RatioTable[]
}

export function thisMachine(): Machine {
  return { cpu: cpus()[0]?.model.trim() ?? 'unknown', cpus: availableParallelism(), platform: `${platform()}-${arch()}`, node: process.version }
}

const ms = (d: Distribution | null, key: keyof Omit<Distribution, 'count'>) => (d ? d[key].toFixed(1) : '–')
const num = (x: number | null, digits: number) => (x !== null && Number.isFinite(x) ? x.toFixed(digits) : '–')
const four = (d: Distribution | null) => (d ? `${ms(d, 'mean')} / ${ms(d, 'p50')} / ${ms(d, 'p90')} / ${ms(d, 'p99')}` : '–')
/** How the workload samples, in words. */
export const sampling = (temperature: number) => (temperature === 0 ? 'greedy' : `temperature ${temperature}, no top_k`)
const lengths = (spec: LengthSpec) => (spec.range > 0 ? `${spec.mean} ± ${Math.round(spec.range * 100)} %` : `${spec.mean}`)

export function describeTarget(target: TargetReport): string {
  return target.kind === 'http'
    ? `model \`${target.model || '(server default)'}\` at ${target.baseUrl}`
    : `in-process node-llama-cpp: ${target.modelPath}, ${target.threads} threads, ${target.parallel} sequences × ${target.contextSize} tokens, batch ${target.batchSize}`
}

/** The workload line, one table per target (times in ms), then the ratio tables. */
export function markdownReport(report: BenchReport): string {
  const { options } = report
  const lines = [
    `${options.preset ? `Preset \`${options.preset}\`: ` : ''}${options.requests} requests per level${options.rounds > 1 ? ` × ${options.rounds} rounds (interleaved)` : ''}, ` +
      `${lengths(options.promptTokens)} prompt words, ${lengths(options.outputTokens)} output tokens (ignore_eos, ${sampling(options.temperature ?? 0)}), seed ${options.seed}, ` +
      `${options.warmup} warm-up; ${report.machine.cpus} × ${report.machine.cpu}`,
  ]
  for (const target of report.targets) {
    lines.push(
      '',
      `**${target.name}**: ${describeTarget(target)}`,
      '',
      '| level | ok / sent | output tok/s | req/s | TTFT mean / p50 / p90 / p99 | TPOT mean / p50 / p90 / p99 | ITL mean / p50 / p90 / p99 | e2e mean / p50 / p90 / p99 | output tokens | prompt tokens |',
      '|---|---|---|---|---|---|---|---|---|---|',
    )
    for (const level of target.levels) {
      lines.push(
        `| ${level.label} | ${level.completed} / ${level.requests} | ${num(level.outputTokensPerS, 1)} | ${num(level.requestsPerS, 2)} | ` +
          `${four(level.ttftMs)} | ${four(level.tpotMs)} | ${four(level.itlMs)} | ${four(level.e2eMs)} | ${level.outputTokens} | ${level.promptTokens ?? '–'} |`,
      )
    }
  }
  for (const table of report.ratios) {
    lines.push('', `**${table.subject} ÷ ${table.reference}**`, '', '| level | output tok/s | TTFT p50 | TPOT p50 |', '|---|---|---|---|')
    for (const level of table.levels) {
      lines.push(`| ${level.label} | ${num(level.outputTokensPerS, 3)} | ${num(level.ttftP50, 3)} | ${num(level.tpotP50, 3)} |`)
    }
  }
  const errors = report.targets.flatMap((t) => t.levels.flatMap((l) => l.errorMessages.map((m) => `- ${t.name} ${l.label}: ${m}`)))
  if (errors.length) lines.push('', 'Errors:', ...errors)
  return `${lines.join('\n')}\n`
}

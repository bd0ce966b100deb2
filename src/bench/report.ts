/** Formatting of `gguf-serve bench` reports: the Markdown table. The JSON report is the object itself. */
import type { Distribution } from './metrics.js'
import type { BenchReport } from './load-generator.js'

const ms = (d: Distribution | null, key: keyof Omit<Distribution, 'count'>) => (d ? d[key].toFixed(1) : '–')
const num = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : '–')

/** One row per concurrency level; times in milliseconds. */
export function markdownReport(report: BenchReport): string {
  const { options } = report
  const lines = [
    `model \`${report.model || '(server default)'}\` at ${report.baseUrl}: ${options.requests} requests per level, ` +
      `~${options.promptTokens} prompt tokens, ${options.outputTokens} output tokens (ignore_eos), seed ${options.seed}, ${options.warmup} warm-up`,
    '',
    '| concurrency | ok / sent | output tok/s | req/s | TTFT mean / p50 / p90 / p99 (ms) | TPOT mean / p50 / p90 / p99 (ms) | ITL mean / p50 / p90 / p99 (ms) | e2e mean / p50 / p90 / p99 (ms) | output tokens |',
    '|---|---|---|---|---|---|---|---|---|',
  ]
  const four = (d: Distribution | null) => (d ? `${ms(d, 'mean')} / ${ms(d, 'p50')} / ${ms(d, 'p90')} / ${ms(d, 'p99')}` : '–')
  for (const level of report.levels) {
    lines.push(
      `| ${level.concurrency} | ${level.completed} / ${level.requests} | ${num(level.outputTokensPerS, 1)} | ${num(level.requestsPerS, 2)} | ` +
        `${four(level.ttftMs)} | ${four(level.tpotMs)} | ${four(level.itlMs)} | ${four(level.e2eMs)} | ${level.outputTokens} |`,
    )
  }
  const errors = report.levels.flatMap((l) => l.errorMessages.map((m) => `- concurrency ${l.concurrency}: ${m}`))
  if (errors.length) lines.push('', 'Errors:', ...errors)
  return `${lines.join('\n')}\n`
}

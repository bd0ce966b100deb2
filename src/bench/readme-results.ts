/**
 * The benchmark results block of README.md: a short table of the ratios from a `gguf-serve bench` report
 * (and, when given, the HTTP overhead figures of bench/http-overhead.ts), written between two markers so
 * that regenerating it touches nothing else.
 */
import { sampling, type BenchReport } from './report.js'

export const RESULTS_START = '<!-- bench-results:start -->'
export const RESULTS_END = '<!-- bench-results:end -->'

/** What bench/http-overhead.ts measures and writes as JSON. */
export interface HttpOverheadReport {
  command: string
  machine: BenchReport['machine']
  model: string
  parallel: number
  threads: number
  /** autocannon runs: req/s and latency per endpoint. */
  endpoints: Array<{ name: string; connections: number; requestsPerS: number; meanMs: number; p99Ms: number }>
  /** A non-streamed max_tokens: 1 chat request, one at a time: HTTP latency against the engine's own time. */
  oneToken: { httpMeanMs: number; engineMeanMs: number; overheadMs: number }
}

/** `text` with everything between the two markers replaced by `block` (markers kept). */
export function replaceBetweenMarkers(text: string, block: string): string {
  const start = text.indexOf(RESULTS_START)
  const end = text.indexOf(RESULTS_END)
  if (start < 0 || end < start) throw new Error(`the README needs the markers ${RESULTS_START} and ${RESULTS_END}, in that order`)
  return `${text.slice(0, start + RESULTS_START.length)}\n${block.trimEnd()}\n${text.slice(end)}`
}

const fixed = (x: number | null | undefined, digits: number) => (x != null && Number.isFinite(x) ? x.toFixed(digits) : '–')

export function readmeResults(report: BenchReport, http: HttpOverheadReport | null): string {
  const [subject] = report.targets
  if (!subject) throw new Error('the report has no targets')
  const { machine, options } = report
  const model = subject.kind === 'http' ? subject.model : subject.modelPath
  const workload =
    `${options.preset ? `preset \`${options.preset}\`: ` : ''}${options.promptTokens.mean}-word prompts, ` +
    `${options.outputTokens.mean} output tokens (${sampling(options.temperature ?? 0)}), ${options.requests} requests per level` +
    (options.rounds > 1 ? ` × ${options.rounds} interleaved rounds` : '')
  // TPOT p50 too: on a noisy machine a few stalled requests move throughput, medians hardly.
  const header = [
    'level',
    `${subject.name} tok/s`,
    'TTFT p50 (ms)',
    ...report.ratios.flatMap((r) => [`tok/s ÷ ${r.reference}`, `TTFT p50 ÷ ${r.reference}`, `TPOT p50 ÷ ${r.reference}`]),
  ]
  const lines = [
    `Side by side on ${machine.cpus} × ${machine.cpu} (${machine.platform}, Node ${machine.node}), ${report.startedAt.slice(0, 10)}; ` +
      `model \`${model}\`, ${workload}:`,
    '',
    '```sh',
    report.command,
    '```',
    '',
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...subject.levels.map((level, i) =>
      [
        level.label,
        fixed(level.outputTokensPerS, 1),
        fixed(level.ttftMs?.p50, 0),
        ...report.ratios.flatMap((r) => [fixed(r.levels[i]?.outputTokensPerS, 3), fixed(r.levels[i]?.ttftP50, 3), fixed(r.levels[i]?.tpotP50, 3)]),
      ].join(' | '),
    ).map((row) => `| ${row} |`),
  ]
  if (http) {
    lines.push(
      '',
      `HTTP path (\`${http.model}\`, ${http.threads} thread, --parallel ${http.parallel}):`,
      '',
      '```sh',
      http.command,
      '```',
      '',
      '| endpoint | connections | req/s | mean (ms) | p99 (ms) |',
      '|---|---|---|---|---|',
      ...http.endpoints.map((e) => `| ${e.name} | ${e.connections} | ${fixed(e.requestsPerS, 0)} | ${fixed(e.meanMs, 2)} | ${fixed(e.p99Ms, 1)} |`),
      '',
      `\`max_tokens: 1\` chat request, one at a time: ${fixed(http.oneToken.httpMeanMs, 2)} ms over HTTP against ` +
        `${fixed(http.oneToken.engineMeanMs, 2)} ms in the engine alone: **${fixed(http.oneToken.overheadMs, 2)} ms overhead** per request.`,
    )
  }
  return `${lines.join('\n')}\n`
}

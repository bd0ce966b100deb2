/**
 * Runs one workload against every target, interleaved: for each level and round, every target runs the
 * same requests in turn, and the order of the targets rotates from one (level, round) to the next, so a
 * slow spell of a noisy machine does not always hit the same target.
 */
import { levelMetrics, requestMetrics, type LevelMetrics } from './metrics.js'
import type { BenchTarget, LevelPlan, RequestResult, TargetInfo } from './target.js'
import { benchRequest, levelLabel, poissonArrivals, type LoadLevel, type WorkloadOptions } from './workload.js'

export interface RunOptions {
  levels: LoadLevel[]
  /** Requests per level and round. */
  requests: number
  /** Repeats of every level; a target's figures pool all its rounds. */
  rounds: number
  /** Requests sent one at a time to each target before the first level, not measured. */
  warmup: number
  workload: WorkloadOptions
  /** Progress lines (final = the line is complete, not to be overwritten). */
  progress?: (line: string, final: boolean) => void
}

export interface LevelReport extends LevelMetrics {
  level: LoadLevel
  /** 'c4', '2 req/s'. */
  label: string
  /** Requests sent. */
  requests: number
  errors: number
  /** The first few distinct error messages. */
  errorMessages: string[]
  /** Content chunks received (a chunk may hold more than one token, or none for partial characters). */
  contentChunks: number
  /** Sum of the prompt tokens reported by the successful requests (null when none was). */
  promptTokens: number | null
  /** Successful requests that reported usage. */
  usageReported: number
}

export type TargetReport = { name: string; levels: LevelReport[] } & TargetInfo

/** The request indices of a (level, round): fixed, so every target and every run gets the same requests. */
export function levelPlan(options: RunOptions, levelIndex: number, round: number): LevelPlan {
  const level = options.levels[levelIndex]!
  const first = options.warmup + (levelIndex * options.rounds + round) * options.requests
  const requests = Array.from({ length: options.requests }, (_, i) => benchRequest(options.workload, first + i))
  const arrivalsMs = level.kind === 'rate' ? poissonArrivals(level.requestsPerS, options.requests, options.workload.seed + first) : null
  return { level, requests, arrivalsMs }
}

/** One level's figures from the results of all its rounds. */
export function levelReport(level: LoadLevel, results: readonly RequestResult[], durationMs: number): LevelReport {
  const succeeded = results.filter((r) => r.ok)
  const prompts = succeeded.map((r) => r.promptTokens).filter((x): x is number => x !== null)
  return {
    level,
    label: levelLabel(level),
    requests: results.length,
    errors: results.length - succeeded.length,
    errorMessages: [...new Set(results.filter((r) => !r.ok).map((r) => r.error ?? 'unknown error'))].slice(0, 5),
    contentChunks: succeeded.reduce((sum, r) => sum + r.contentChunks, 0),
    promptTokens: prompts.length ? prompts.reduce((a, b) => a + b, 0) : null,
    usageReported: succeeded.filter((r) => r.usageCompletionTokens !== null).length,
    ...levelMetrics(
      succeeded.map((r) => requestMetrics(r.timing!)),
      durationMs,
    ),
  }
}

/** Targets in the order they run for the given turn (rotated by one each turn). */
export function rotation<T>(items: readonly T[], turn: number): T[] {
  const shift = turn % items.length
  return [...items.slice(shift), ...items.slice(0, shift)]
}

export async function runTargets(targets: readonly BenchTarget[], options: RunOptions): Promise<TargetReport[]> {
  const progress = options.progress ?? (() => {})
  const warmup: LevelPlan = {
    level: { kind: 'concurrency', concurrency: 1 },
    requests: Array.from({ length: options.warmup }, (_, i) => benchRequest(options.workload, i)),
    arrivalsMs: null,
  }
  for (const target of targets) {
    if (options.warmup === 0) break
    let done = 0
    await target.run(warmup, (result) => {
      done++
      progress(`${target.name}: warm-up ${done}/${options.warmup}${result.ok ? '' : ` failed: ${result.error}`}`, done === options.warmup || !result.ok)
    })
  }

  const collected = targets.map(() => options.levels.map(() => ({ results: [] as RequestResult[], durationMs: 0 })))
  for (const [levelIndex, level] of options.levels.entries()) {
    for (let round = 0; round < options.rounds; round++) {
      const plan = levelPlan(options, levelIndex, round)
      const turn = levelIndex * options.rounds + round
      for (const target of rotation(targets, turn)) {
        const into = collected[targets.indexOf(target)]![levelIndex]!
        let done = 0
        let failed = 0
        const what = `${target.name} ${levelLabel(level)}${options.rounds > 1 ? ` round ${round + 1}/${options.rounds}` : ''}`
        const report = () => progress(`${what}: ${done}/${plan.requests.length} done${failed ? `, ${failed} failed` : ''}`, done === plan.requests.length)
        report()
        const run = await target.run(plan, (result) => {
          done++
          if (!result.ok) failed++
          report()
        })
        into.results.push(...run.results)
        into.durationMs += run.durationMs
      }
    }
  }
  return targets.map((target, t) => ({
    name: target.name,
    ...target.info(),
    levels: options.levels.map((level, l) => levelReport(level, collected[t]![l]!.results, collected[t]![l]!.durationMs)),
  }))
}

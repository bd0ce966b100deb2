/** Side-by-side ratios between targets of one `gguf-serve bench` run. */
import type { TargetReport } from './runner.js'

export interface LevelRatio {
  label: string
  /** subject ÷ reference output tokens/s: above 1 = the subject is faster. */
  outputTokensPerS: number | null
  /** subject ÷ reference TTFT p50: below 1 = the subject answers sooner. */
  ttftP50: number | null
  /** subject ÷ reference TPOT p50: below 1 = the subject decodes faster. */
  tpotP50: number | null
}

export interface RatioTable {
  subject: string
  reference: string
  levels: LevelRatio[]
}

/** a ÷ b, or null when either is missing or b is not positive. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b <= 0) return null
  return a / b
}

/** The first target (the server under test) against every other one, level by level. */
export function ratioTables(targets: readonly TargetReport[]): RatioTable[] {
  const [subject, ...references] = targets
  if (!subject) return []
  return references.map((reference) => ({
    subject: subject.name,
    reference: reference.name,
    levels: subject.levels.map((level, i) => {
      const other = reference.levels[i]!
      return {
        label: level.label,
        outputTokensPerS: ratio(level.outputTokensPerS, other.outputTokensPerS),
        ttftP50: ratio(level.ttftMs?.p50, other.ttftMs?.p50),
        tpotP50: ratio(level.tpotMs?.p50, other.tpotMs?.p50),
      }
    }),
  }))
}

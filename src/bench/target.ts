/** What every `gguf-serve bench` target (an HTTP server, the raw engine) runs, and what it gives back. */
import type { RequestTiming } from './metrics.js'
import type { BenchRequest, LoadLevel } from './workload.js'

export interface RequestResult {
  ok: boolean
  error?: string
  timing?: RequestTiming
  /** Chunks that carried content (the raw engine: tokens). */
  contentChunks: number
  promptTokens: number | null
  /** From the stream's usage chunk (the raw engine: tokens generated); null when the server sent none. */
  usageCompletionTokens: number | null
}

/** One level's work, identical for every target. */
export interface LevelPlan {
  level: LoadLevel
  requests: BenchRequest[]
  /** Rate levels: when each request arrives, ms after the level starts; null for concurrency levels. */
  arrivalsMs: number[] | null
}

export interface LevelRun {
  results: RequestResult[]
  /** First request sent → last one finished. */
  durationMs: number
}

/** How the engine target was set up (the server it is compared with should match). */
export interface EngineSettings {
  modelPath: string
  threads: number
  /** Sequences of the context, like a server's slots. */
  parallel: number
  /** Per sequence. */
  contextSize: number
  batchSize: number
}

export type TargetInfo = { kind: 'http'; baseUrl: string; model: string } | ({ kind: 'engine' } & EngineSettings)

export interface BenchTarget {
  readonly name: string
  run(plan: LevelPlan, onResult: (result: RequestResult) => void): Promise<LevelRun>
  info(): TargetInfo
  close(): Promise<void>
}

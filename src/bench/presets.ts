/**
 * Named workloads for `gguf-serve bench --preset`. A preset stands for the flags it lists; a flag given on
 * the command line wins over its preset's value.
 */
export interface BenchPreset {
  description: string
  concurrency: string
  promptTokens: string
  outputTokens: string
  temperature: string
}

export const BENCH_PRESETS = {
  /**
   * What an OpenAI SDK user sends to a chat model: ~200-token prompts (110 words with the generated models'
   * vocabulary, plus the template), 64 streamed tokens, temperature 0.7 and no top_k, top_p or min_p, so the
   * server samples from the whole vocabulary.
   */
  'chat-default': {
    description: 'OpenAI-default sampling: ~200-token prompts, 64 output tokens, temperature 0.7, no top_k',
    concurrency: '1,4,8',
    promptTokens: '110',
    outputTokens: '64',
    temperature: '0.7',
  },
  /** The same workload at temperature 0: what sampling itself costs is the difference. */
  'chat-default-greedy': {
    description: 'chat-default at temperature 0 (greedy)',
    concurrency: '1,4,8',
    promptTokens: '110',
    outputTokens: '64',
    temperature: '0',
  },
} as const satisfies Record<string, BenchPreset>

export type BenchPresetName = keyof typeof BENCH_PRESETS

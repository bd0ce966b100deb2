/** The protocol-free contract's other half: what a generation reports back (see request.ts). */

export type FinishReason = 'stop' | 'length' | 'tool_calls'

export interface Usage {
  promptTokens: number
  completionTokens: number
  cachedTokens: number
  /** Completion tokens generated inside a thinking segment (markers included); absent = 0. */
  reasoningTokens?: number
}

export interface TokenAlternative {
  token: string
  bytes: number[]
  logprob: number
}

export interface TokenLogprob extends TokenAlternative {
  top: TokenAlternative[]
}

/** A prompt token's logprob; the first prompt token has none (nothing comes before it). */
export interface PromptTokenLogprob {
  token: string
  bytes: number[]
  logprob: number | null
  top: TokenAlternative[] | null
}

/**
 * One request's output, in order: `started`, then `text`s and one `finished` per choice (interleaved
 * when n > 1). `usage` on `finished` counts that choice's completion tokens and the shared prompt.
 * Failures are thrown.
 */
export type GenerationEvent =
  | { type: 'started'; promptTokens: number; cachedTokens: number; choices: number }
  /** With `echo` or `promptLogprobs`, once, before any text: the prompt as text, and its tokens' logprobs. */
  | { type: 'prompt'; text: string; logprobs: PromptTokenLogprob[] | null }
  | { type: 'text'; choice: number; text: string; tokens: number; logprobs?: TokenLogprob[] }
  /** A reasoning model's thinking (markers removed), before any `text` of the same choice. */
  | { type: 'reasoning'; choice: number; text: string; tokens: number }
  /**
   * A tool call, streamed: the first event of call `index` carries `id` and `name` (and an empty
   * `argumentsDelta`); later ones only argument text. The deltas concatenate to the arguments JSON.
   */
  | { type: 'toolCallDelta'; choice: number; index: number; id?: string; name?: string; argumentsDelta: string; tokens: number }
  | {
      type: 'finished'
      choice: number
      reason: FinishReason
      stopReason: string | number | null
      usage: Usage
    }

/**
 * The protocol-free contract between the wire codecs, the scheduler and the engine. Nothing here knows
 * OpenAI's field names; the codecs in `src/api/codec/` translate both ways.
 */

export type ChatRole = 'system' | 'user' | 'assistant' | 'tool'

export interface ChatMessage {
  role: ChatRole
  content: string
  name?: string
}

export type GenerationInput = { kind: 'chat'; messages: ChatMessage[] } | { kind: 'tokens'; tokens: number[] }

export interface SamplingOptions {
  /** 0 = greedy. */
  temperature: number
  topP: number
  /** null = no top-k truncation. */
  topK: number | null
  minP: number
  /** Always set: a request without a seed gets a random one (the engine's default repeats per second). */
  seed: number
  /** Additive, OpenAI semantics: over the whole completion so far, per occurrence. */
  frequencyPenalty: number
  /** Additive, OpenAI semantics: once for every token that occurred in the completion. */
  presencePenalty: number
  /** Multiplicative, HF/vLLM semantics, over prompt and completion; 1 = off. */
  repetitionPenalty: number
  /** Token id → additive logit bias; −100 bans, +100 forces (OpenAI's scale). */
  logitBias: ReadonlyMap<number, number>
  /** Never sampled. */
  bannedTokens: readonly number[]
  /** When set, nothing else is sampled. */
  allowedTokens: readonly number[] | null
}

export interface StopOptions {
  /** Stop strings: generation ends before them; not emitted unless `includeStopString`. */
  strings: string[]
  /** Token ids that end generation, reported as the stop_reason. */
  tokenIds: number[]
  includeStopString: boolean
  /** End-of-generation tokens and stops are suppressed until this many completion tokens. */
  minTokens: number
  /** Keep generating through end-of-generation tokens, up to the token limit. */
  ignoreEos: boolean
}

/** Constrained output: only text in the grammar's language can be sampled. */
export interface GrammarSpec {
  /** llama.cpp GBNF. */
  gbnf: string
  /** When the output must also validate against a JSON Schema (checked once more at the end). */
  schema: object | null
  /** The request field the grammar came from, named in errors about it. */
  param: string
}

export interface GenerationRequest {
  /** Resolved model id (aliases already mapped). */
  model: string
  input: GenerationInput
  sampling: SamplingOptions
  /** Completion tokens at most per choice; null = the model's configured ceiling, clamped to the free context. */
  maxTokens: number | null
  stop: StopOptions
  /** Independent completions of the one prompt, evaluated once and shared. */
  n: number
  /** null = no logprobs; otherwise how many alternatives per token (0–20). */
  logprobs: { top: number } | null
  /** Keep special tokens (e.g. `<|im_end|>`) out of the text. */
  skipSpecialTokens: boolean
  /** Keep only the last k prompt tokens (vLLM's left truncation); null = never truncate. */
  truncatePromptTokens: number | null
  /** Queue order: lower goes first (vLLM's convention), FIFO among equals. */
  priority: number
  grammar: GrammarSpec | null
}

export type FinishReason = 'stop' | 'length'

export interface Usage {
  promptTokens: number
  completionTokens: number
  cachedTokens: number
}

export interface TokenAlternative {
  token: string
  bytes: number[]
  logprob: number
}

export interface TokenLogprob extends TokenAlternative {
  top: TokenAlternative[]
}

/**
 * One request's output, in order: `started`, then `text`s and one `finished` per choice (interleaved
 * when n > 1). `usage` on `finished` counts that choice's completion tokens and the shared prompt.
 * Failures are thrown.
 */
export type GenerationEvent =
  | { type: 'started'; promptTokens: number; cachedTokens: number; choices: number }
  | { type: 'text'; choice: number; text: string; tokens: number; logprobs?: TokenLogprob[] }
  | {
      type: 'finished'
      choice: number
      reason: FinishReason
      stopReason: string | number | null
      usage: Usage
    }

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
  /** Always set: a request without a seed gets a random one (the engine's default repeats per second). */
  seed: number
}

export interface GenerationRequest {
  /** Resolved model id (aliases already mapped). */
  model: string
  input: GenerationInput
  sampling: SamplingOptions
  /** Completion tokens at most; null = the model's configured ceiling, clamped to the free context. */
  maxTokens: number | null
  /** Stop strings: generation ends before them and they are never emitted. */
  stop: string[]
}

export type FinishReason = 'stop' | 'length'

export interface Usage {
  promptTokens: number
  completionTokens: number
  cachedTokens: number
}

/** One request's output, in order: `started`, then `text`s, then `finished`. Failures are thrown. */
export type GenerationEvent =
  | { type: 'started'; promptTokens: number; cachedTokens: number }
  | { type: 'text'; text: string; tokens: number }
  | { type: 'finished'; reason: FinishReason; stopReason: string | number | null; usage: Usage }

/**
 * The protocol-free contract between the wire codecs, the scheduler and the engine: what is asked.
 * Nothing here knows OpenAI's field names; the codecs in `src/api/codec/` translate both ways.
 */

export type ChatRole = 'system' | 'user' | 'assistant' | 'tool'

export interface ChatMessage {
  role: ChatRole
  content: string
  name?: string
  /** Assistant turns: the calls the model made (arguments parsed when they were JSON, else the raw string). */
  toolCalls?: ToolCallRecord[]
  /** Tool turns: the call this result answers. */
  toolCallId?: string
  /** Assistant turns: the thinking that preceded the answer (templates see it as `reasoning_content`). */
  reasoning?: string
}

export interface ToolCallRecord {
  id: string
  name: string
  /** A parsed JSON value, or the client's string as it was when it did not parse. */
  arguments: unknown
}

/** A function the model may call. */
export interface ToolDefinition {
  name: string
  description?: string
  /** JSON Schema of the arguments object; null = the function takes no arguments. */
  parameters: object | null
}

/**
 * Which calls the output may hold: `none` = no calls (tools are still shown to the model, output stays
 * text); `auto` = text, optionally followed by calls; `required` = one or more calls; `named` = exactly
 * one call of that function.
 */
export type ToolChoice = { kind: 'none' } | { kind: 'auto' } | { kind: 'required' } | { kind: 'named'; name: string }

export interface ToolOptions {
  definitions: ToolDefinition[]
  choice: ToolChoice
  /** More than one call per turn; false = at most one. */
  parallel: boolean
  /** Keywords of `strict: false` tools left out of their grammars (`x-schema-relaxed`). */
  relaxed?: readonly string[]
}

/** How much a reasoning model should think; templates that know the variable read it as `reasoning_effort`. */
export type ReasoningEffort = 'none' | 'minimal' | 'low' | 'medium' | 'high'

/**
 * How a chat is rendered through a Jinja chat template (the model's or the request's own). Models
 * rendered without one (node-llama-cpp's format detection) accept only the defaults.
 */
export interface ChatTemplateOptions {
  /** A Jinja template replacing the model's for this request; null = the model's. */
  source: string | null
  /** Extra template variables (e.g. `enable_thinking: false`); they win over those derived from `reasoningEffort`. */
  variables: Record<string, unknown>
  /** The request field the variables came from, named in errors. */
  variablesParam: string
  /** Passed as `reasoning_effort`; `none` also sets `enable_thinking: false` unless `variables` set it. null = not sent. */
  reasoningEffort: ReasoningEffort | null
  /** End the prompt with the assistant header. Defaults to true. */
  addGenerationPrompt: boolean
  /** Cut the prompt right after the last (assistant) message's content, so the output continues it. */
  continueFinalMessage: boolean
  /** RAG documents, passed as `documents`; null = none. */
  documents: Array<Record<string, unknown>> | null
}

export type GenerationInput =
  | { kind: 'chat'; messages: ChatMessage[]; template?: ChatTemplateOptions }
  /** Raw text, tokenized as llama-server does: special-token text parsed, BOS added when the model wants it. */
  | { kind: 'text'; text: string }
  | { kind: 'tokens'; tokens: number[] }
  /** Fill-in-the-middle: the model's infill tokens around prefix and suffix. */
  | { kind: 'infill'; prefix: string; suffix: string }

/**
 * The sampler's own settings, named as the engine's sampler names them: they reach it as they are, so a
 * new one is added here, in the wire schema and in the codec, and nowhere else.
 */
export interface SamplerSettings {
  /** 0 = greedy. */
  temperature: number
  topP: number
  /** null = no top-k truncation. */
  topK: number | null
  minP: number
}

/** Sampler settings, plus what the engine applies itself (seed per choice, penalties, biases). */
export interface SamplingOptions extends SamplerSettings {
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
  /** Keywords of a `strict: false` schema left out of the grammar (`x-schema-relaxed`). */
  relaxed?: readonly string[]
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
  /** Logprobs of the prompt tokens too (legacy completions with echo); null = none. */
  promptLogprobs: { top: number } | null
  /** Report the prompt's text (a `prompt` event) so it can be echoed. */
  echo: boolean
  /** Keep special tokens (e.g. `<|im_end|>`) out of the text. */
  skipSpecialTokens: boolean
  /**
   * Keep only the last k prompt tokens (vLLM's left truncation); `fit` = as many as leave one completion
   * token free (vLLM's −1); null = never truncate.
   */
  truncatePromptTokens: number | 'fit' | null
  /** Queue order: lower goes first (vLLM's convention), FIFO among equals. */
  priority: number
  /** A tenant's cache key: a cached prompt prefix is reused only by requests with the same salt (null = none). */
  cacheSalt?: string | null
  grammar: GrammarSpec | null
  /** Function calling (chat only); null = no tools. Calls are enforced by a grammar unless the choice is `none`. */
  tools?: ToolOptions | null
  /**
   * Report a reasoning model's thinking as `reasoning` events. Defaults to true; false = the thinking
   * is generated (and counted) but not reported.
   */
  reportReasoning?: boolean
  /**
   * A reasoning model's thinking tokens at most (markers included): at the cap the segment's closing marker
   * is forced and the answer follows, within `maxTokens` as ever. Absent or null = no cap of its own.
   */
  thinkingBudget?: number | null
}

/** The lists of token ids a request can name, each of which the engine must see only within its vocabulary. */
export type TokenIdList = 'logitBias' | 'stopTokenIds' | 'bannedTokens' | 'allowedTokens' | 'prompt'

/** Every token id the request names, by list: the codecs refuse ids beyond the vocabulary, the engine re-checks. */
export function tokenIdLists(request: GenerationRequest): Record<TokenIdList, Iterable<number>> {
  const { sampling, stop, input } = request
  return {
    logitBias: sampling.logitBias.keys(),
    stopTokenIds: stop.tokenIds,
    bannedTokens: sampling.bannedTokens,
    allowedTokens: sampling.allowedTokens ?? [],
    prompt: input.kind === 'tokens' ? input.tokens : [],
  }
}

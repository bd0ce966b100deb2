import type { EmbeddingRequest, EmbeddingResult } from './embedding.js'
import type { GenerationEvent } from './events.js'
import type { GenerationRequest } from './request.js'
import type { DetokenizeRequest, TokenizeRequest, TokenizeResult } from './tokenizing.js'

/** `downloading`: its file is still being fetched at start. */
export type ModelState = 'downloading' | 'unloaded' | 'loading' | 'ready' | 'unloading'

export interface MemoryFigures {
  ram: number
  vram: number
}

/** One configured model as the server describes it: its config, and while loaded, the loaded facts and its load. */
export interface ModelDescription {
  id: string
  aliases: string[]
  state: ModelState
  /** While downloading: how far, e.g. "downloading 41 %, 12 s left". */
  progress?: string
  /** The loaded context size; the configured one while not loaded. */
  contextSize: number
  /** Unix seconds of the load; 0 while not loaded. */
  created: number
  slotsTotal: number
  slotsBusy: number
  /** Requests waiting for a slot or for their turn (embeddings, tokenizing). */
  queue: number
  kvCacheTokens: number
  /** The rest is null while not loaded. */
  loaded: {
    trainContextSize: number
    gpuLayers: number
    threads: number
    sizeBytes: number
    promptFormat: string
    weightsMemory: MemoryFigures
    contextMemory: MemoryFigures
  } | null
}

/** Values a model uses when a request leaves them out; absent = the protocol's own default. */
export interface RequestDefaults {
  temperature?: number
  topP?: number
  topK?: number
  minP?: number
  /** Completion tokens per choice; absent = the model's ceiling. */
  maxTokens?: number
  /** The sampling seed of requests that send none (--seed); absent = a random one per request. */
  seed?: number
}

/** What a codec needs to know about a model to decode a request for it. */
export interface ModelDefaults {
  /** The resolved id (the request's alias mapped). */
  id: string
  /** `system_fingerprint`: changes with the weights, the server version or the context shape. */
  fingerprint: string
  /** Largest n per request. */
  maxChoices: number
  /** Slots: choices generated at once, so also a limit on n. */
  parallel: number
  /** Token ids run from 0 to vocabularySize - 1. */
  vocabularySize: number
  /** Generations one request may ask for (prompts × n). */
  maxFanOut: number
  /** Components of a full embedding vector. */
  embeddingSize: number
  defaults: RequestDefaults
  /** Requests may bring their own chat template. */
  trustRequestChatTemplate: boolean
}

/** What a request's owner hands the backend besides the request itself. */
export interface SubmitOptions {
  /** Fires when the client is gone: the request is dropped wherever it is (queued or running). */
  signal?: AbortSignal
  /** Called once when a generation ends, with what the scheduler measured. */
  onTimings?: (timings: RequestTimings) => void
}

/** What the scheduler measured for one request. */
export interface RequestTimings {
  queueMs: number
  /** Arrival to first text, null when no text was produced. */
  ttftMs: number | null
  totalMs: number
}

/**
 * The one backend face: everything the protocol layer may ask of the models, in protocol-free terms.
 * Every call goes through admission (bounded queue, deadline, cancellation, metrics) and counts as use
 * of its model, which stays loaded while the work runs. Failures are thrown `ServeError`s.
 */
export interface ModelBackend {
  /** Every preloaded model has loaded once. */
  readonly ready: boolean
  /** Every configured model, in configuration order. */
  describe(): ModelDescription[]
  /** The configured model a name (id, alias or alias pattern) stands for, without loading it; null when none. */
  find(name: string): ModelDescription | null
  /** Resolves the model name (id, alias, or empty for the first model), loading it when needed. */
  defaults(model: string | null | undefined): Promise<ModelDefaults>
  /**
   * Queues a generation. Admission errors (queue full, prompt too long, bad token ids) are thrown here,
   * synchronously, when the model is loaded; otherwise from the first `next()`.
   */
  submit(request: GenerationRequest, options?: SubmitOptions): AsyncIterable<GenerationEvent>
  embed(request: EmbeddingRequest, options?: SubmitOptions): Promise<EmbeddingResult>
  tokenize(request: TokenizeRequest, options?: SubmitOptions): Promise<TokenizeResult>
  detokenize(request: DetokenizeRequest, options?: SubmitOptions): Promise<string>
}

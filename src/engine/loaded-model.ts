import { createHash } from 'node:crypto'
import { statSync } from 'node:fs'
import { LlamaGrammar, type LlamaContext, type LlamaModel, type Token } from 'node-llama-cpp'
import type { Logger } from 'pino'
import type { ModelConfig } from '../config/schema.js'
import { ContextLengthExceededError, InvalidRequestError, StartupError } from '../errors.js'
import { availableCpus } from './available-cpus.js'
import { Generation, type GenerationPlan } from './generation.js'
import { UnsupportedSchemaError } from './json-schema-grammar.js'
import { textWithout, toolCallGrammar } from './tool-call-grammar.js'
import { PromptRenderer, type RenderedPrompt } from './prompt-renderer.js'
import { THINK_CLOSE, THINK_OPEN } from './reasoning-splitter.js'
import { Slot, type PrefillPolicy } from './slot.js'
import type { GenerationRequest, GrammarSpec } from './types.js'
import { Vocabulary } from './vocabulary.js'
import { version } from '../version.js'

/**
 * Models smaller than this run fastest on one thread: their per-token work is too small to split, and
 * llama.cpp's spinning threads only contend. Measured on 2 cores (decode tok/s, 1 vs 2 threads): a
 * 1.2 MB model 568 vs 109, a 107 MB model 44 vs 56, a 382 MB model 17 vs 28.
 */
const SINGLE_THREAD_BELOW_BYTES = 32 * 1024 * 1024

const MAX_CACHED_GRAMMARS = 32

export interface ModelInfo {
  id: string
  aliases: string[]
  path: string
  contextSize: number
  parallel: number
  threads: number
  gpuLayers: number
  trainContextSize: number
  sizeBytes: number
  promptFormat: string
  created: number
  /** `system_fingerprint`: changes when the weights, the server version or the context shape change. */
  fingerprint: string
}

/**
 * A GGUF model loaded for serving: one llama.cpp context whose sequences are the slots, the prompt
 * renderer, and the batched step that advances every running generation together.
 */
export class LoadedModel {
  /** Called with the token count of every llama.cpp batch this model's context decodes. */
  onBatch: ((tokens: number) => void) | null = null
  private readonly disposers: Array<() => Promise<void>> = []
  /** Compiled grammars by GBNF text: clients repeat the same response_format. */
  private readonly grammars = new Map<string, LlamaGrammar>()

  private constructor(
    readonly info: ModelInfo,
    /** The node-llama-cpp model, for engine modules that need more than generation (embeddings, tokenizing). */
    readonly model: LlamaModel,
    private readonly context: LlamaContext,
    readonly slots: Slot[],
    readonly renderer: PromptRenderer,
    readonly vocabulary: Vocabulary,
    readonly config: ModelConfig,
  ) {}

  /**
   * Creates the serving context over weights the caller loaded (`ModelLoader`): model ids that name the
   * same file share its weights, each with a context of its own, so the weights are not this object's to free.
   */
  static async load(model: LlamaModel, config: ModelConfig, path: string, log: Logger): Promise<LoadedModel> {
    const sizeBytes = statSync(path).size
    const threads = config.threads === 'auto' ? defaultThreads(sizeBytes) : config.threads
    const started = performance.now()
    const { contextSize, batchSize } = contextShape(config, model.trainContextSize)
    if (contextSize < config.contextSize) {
      log.info({ model: config.id }, `context size ${config.contextSize} capped at the model's training context ${contextSize}`)
    }
    let context: LlamaContext
    try {
      context = await model.createContext({ contextSize, sequences: config.parallel, batchSize, threads })
    } catch (error) {
      throw new StartupError(
        `Cannot create a context of ${contextSize} tokens x ${config.parallel} slots for ${config.id}: ` +
          `${(error as Error).message}. Lower --context-size or --parallel.`,
        { cause: error },
      )
    }
    const slots = Array.from({ length: config.parallel }, (_, i) => new Slot(i, context.getSequence(), prefillPolicy(config, batchSize)))
    const renderer = new PromptRenderer(model, config.chatTemplate)
    const info: ModelInfo = {
      id: config.id,
      aliases: config.aliases,
      path,
      contextSize,
      parallel: config.parallel,
      threads,
      gpuLayers: model.gpuLayers,
      trainContextSize: model.trainContextSize,
      sizeBytes,
      promptFormat: renderer.format,
      created: Math.floor(Date.now() / 1000),
      fingerprint: fingerprint(version, sizeBytes, model.typeDescription, contextSize, config.prefillChunkTokens, String(config.deterministicPrefill)),
    }
    const memory = context.memoryUsage
    log.info(
      {
        model: config.id,
        type: model.typeDescription,
        contextSize,
        slots: config.parallel,
        threads,
        gpuLayers: model.gpuLayers,
        promptFormat: renderer.format,
        vramBytes: memory.vram,
        ramBytes: memory.ram,
        loadMs: Math.round(performance.now() - started),
      },
      `loaded ${config.id}: ${model.gpuLayers} layers on the GPU, ${threads} threads, ${contextSize}-token context x ${config.parallel} slots`,
    )
    const loaded = new LoadedModel(info, model, context, slots, renderer, new Vocabulary(model), config)
    observeBatches(context, (tokens) => loaded.onBatch?.(tokens))
    containSamplingFailures(context, log)
    return loaded
  }

  /** Renders and checks a request: throws before anything is queued when it cannot be served. */
  plan(request: GenerationRequest): GenerationPlan {
    this.checkTokenIds(request)
    if (request.n > this.info.parallel) {
      throw new InvalidRequestError(`n is ${request.n}, but this model serves at most ${this.info.parallel} choices at once (--parallel).`, 'n')
    }
    this.refuseCertainlyTooLong(request)
    const rendered = this.promptTokens(request)
    let promptTokens = rendered.tokens
    if (request.truncatePromptTokens !== null) promptTokens = promptTokens.slice(-request.truncatePromptTokens)
    const free = this.info.contextSize - promptTokens.length
    // At least one completion token must fit.
    if (free < 1) throw new ContextLengthExceededError(promptTokens.length, this.info.contextSize, promptParam(request))
    // The configured maxTokens is both the default and the ceiling.
    const ceiling = Math.min(request.maxTokens ?? this.config.maxTokens, this.config.maxTokens)
    const grammar = this.grammarSpec(request)
    const reasoning = rendered.reasoning
    return {
      request,
      promptTokens,
      maxTokens: Math.min(ceiling, free),
      turnStopTokens: this.renderer.stopTokenIds,
      turnStopTexts: this.renderer.stopTexts,
      grammar: grammar ? this.compileGrammar(request, reasoning ? allowThinking(grammar, reasoning.startsInside) : grammar) : null,
      toolFormat: request.tools && request.tools.choice.kind !== 'none' ? this.renderer.toolFormat : null,
      reasoning,
    }
  }

  /**
   * The request's grammar: its response_format's, or the one that enforces its tool calls in the format
   * this model's template teaches (the format is the model's, so this grammar is built here, not in the codec).
   */
  private grammarSpec(request: GenerationRequest): GrammarSpec | null {
    const tools = request.tools
    if (!tools || tools.choice.kind === 'none') return request.grammar
    if (request.grammar) {
      throw new InvalidRequestError(
        "response_format cannot be combined with tool calls (both need a grammar); drop it or send tool_choice 'none'.",
        'response_format',
      )
    }
    try {
      return { gbnf: toolCallGrammar(this.renderer.toolFormat, tools)!, schema: null, param: 'tools' }
    } catch (error) {
      if (error instanceof UnsupportedSchemaError) throw new InvalidRequestError(`${error.message} Simplify the tool's parameters.`, 'tools')
      throw error
    }
  }

  /**
   * Tokenizing is synchronous and takes ~1 ms per kB, so a body of megabytes would stall every other request.
   * A text of n characters is at least n / longestTokenChars tokens: past the context by that bound alone, the
   * request is refused before it is tokenized. Only trimmed message contents count (templates may trim them or
   * drop reasoning), so the bound never refuses a prompt that would fit.
   */
  private refuseCertainlyTooLong(request: GenerationRequest): void {
    if (request.truncatePromptTokens !== null) return
    const input = request.input
    if (input.kind === 'tokens') return
    const chars =
      input.kind === 'chat' ? input.messages.reduce((sum, m) => sum + m.content.trim().length, 0)
      : input.kind === 'text' ? input.text.length
      : input.prefix.length + input.suffix.length
    const atLeast = this.vocabulary.minimumTokens(chars)
    if (atLeast >= this.info.contextSize) {
      throw new ContextLengthExceededError(atLeast, this.info.contextSize, promptParam(request), true)
    }
  }

  private promptTokens(request: GenerationRequest): RenderedPrompt {
    const input = request.input
    switch (input.kind) {
      case 'chat':
        return this.renderer.render(input.messages, request.tools?.definitions ?? null, input.template ?? null)
      case 'text':
        return { tokens: this.renderer.tokenizeText(input.text), reasoning: null }
      case 'infill':
        return { tokens: this.renderer.infill(input.prefix, input.suffix), reasoning: null }
      case 'tokens':
        return { tokens: input.tokens as Token[], reasoning: null }
    }
  }

  private compileGrammar(request: GenerationRequest, spec: GrammarSpec): LlamaGrammar {
    const { gbnf, param } = spec
    // A grammar ends only at an end-of-generation token; these options would forbid or skip it.
    if (request.stop.ignoreEos) throw new InvalidRequestError('ignore_eos cannot be combined with structured output.', 'ignore_eos')
    if (request.stop.minTokens > 0) throw new InvalidRequestError('min_tokens cannot be combined with structured output.', 'min_tokens')
    // node-llama-cpp's controlled evaluation (the logprobs path) ignores grammars.
    if (request.logprobs) throw new InvalidRequestError('logprobs cannot be combined with structured output yet.', 'logprobs')
    let grammar = this.grammars.get(gbnf)
    if (!grammar) {
      try {
        grammar = new LlamaGrammar(this.model.llama, { grammar: gbnf })
      } catch (error) {
        throw new InvalidRequestError(`The grammar does not parse as GBNF: ${(error as Error).message}.`, param)
      }
      if (this.grammars.size >= MAX_CACHED_GRAMMARS) this.grammars.delete(this.grammars.keys().next().value!)
      this.grammars.set(gbnf, grammar)
    }
    return grammar
  }

  /** Free slots for a request of n choices, the first reusing the most of the prompt; null when too few are free. */
  pickSlots(promptTokens: readonly Token[], n: number): Slot[] | null {
    const free = this.slots.filter((s) => !s.busy)
    if (free.length < n) return null
    const reuse = new Map(free.map((s) => [s, s.reusableLength(promptTokens)]))
    free.sort((a, b) => reuse.get(b)! - reuse.get(a)!)
    return free.slice(0, n)
  }

  /** Claims the slots for the plan (the first trims its cache to the reusable prefix), one generation per choice. */
  async start(plan: GenerationPlan, slots: Slot[]): Promise<Generation[]> {
    for (const slot of slots) slot.busy = true
    // Prompt logprobs need every prompt position evaluated, so nothing cached is reused.
    const reuse = plan.request.promptLogprobs ? 0 : slots[0]!.reusableLength(plan.promptTokens)
    try {
      await slots[0]!.keepPrefix(plan.promptTokens, reuse)
    } catch (error) {
      for (const slot of slots) slot.busy = false
      throw error
    }
    return slots.map((slot, choice) => new Generation(this.model, this.vocabulary, slot, plan, choice, reuse))
  }

  private checkTokenIds(request: GenerationRequest): void {
    const { sampling, stop } = request
    const lists: Array<[string, Iterable<number>]> = [
      ['logit_bias', sampling.logitBias.keys()],
      ['stop_token_ids', stop.tokenIds],
      ['bad_token_ids', sampling.bannedTokens],
      ['allowed_token_ids', sampling.allowedTokens ?? []],
    ]
    if (request.input.kind === 'tokens') lists.push(['prompt', request.input.tokens])
    for (const [param, tokens] of lists) {
      for (const token of tokens) {
        if (!this.vocabulary.has(token)) {
          throw new InvalidRequestError(`Token id ${token} in '${param}' is not in this model's vocabulary (0–${this.vocabulary.size - 1}).`, param)
        }
      }
    }
  }

  /** Advances the given generations by one step, as one llama.cpp batch. */
  async step(generations: readonly Generation[]): Promise<void> {
    await Promise.all(generations.map((g) => g.step()))
  }

  async release(generation: Generation): Promise<void> {
    await generation.close()
    generation.slot.busy = false
  }

  /** Tokens held in the KV cache over all slots. */
  get kvCacheTokens(): number {
    return this.slots.reduce((sum, slot) => sum + slot.cachedTokens, 0)
  }

  /** llama.cpp's estimates of what this model holds: its weights, and its context (every slot's KV cache and buffers). */
  get memoryUsage(): { weights: MemoryUsage; context: MemoryUsage } {
    return { weights: this.model.memoryUsage, context: this.context.memoryUsage }
  }

  /** Runs `dispose` when this model is unloaded (e.g. an embedding context made for it). */
  onDispose(dispose: () => Promise<void>): void {
    this.disposers.push(dispose)
  }

  /** Frees the context, and with it the slots' KV cache; the weights stay with whoever loaded them. */
  async dispose(): Promise<void> {
    await Promise.all(this.disposers.splice(0).map((d) => d()))
    await this.context.dispose()
  }
}

/**
 * Counts the tokens of every llama.cpp batch, from the engine itself rather than from what the scheduler
 * meant to submit: node-llama-cpp starts each batch with the native `initBatch(n)`. Internal API: when
 * it is missing the counter simply stays silent.
 */
function observeBatches(context: LlamaContext, onBatch: (tokens: number) => void): void {
  const native = (context as unknown as { _ctx?: { initBatch?: (n: number) => unknown } })._ctx
  const initBatch = native?.initBatch?.bind(native)
  if (!native || !initBatch) return
  Object.defineProperty(native, 'initBatch', {
    value: (tokens: number) => {
      onBatch(tokens)
      return initBatch(tokens)
    },
  })
}

/**
 * A sampling step that fails inside llama.cpp (a grammar left with no token it can accept: an empty character
 * class, or every token it allows banned by the request's biases) rejects inside node-llama-cpp's batch loop,
 * where nothing catches it: the process would die of an unhandled rejection and the batch's other sequences
 * would wait forever. The native `sampleToken` (internal API) is wrapped to answer "no token" (-1) instead,
 * which node-llama-cpp turns into an error for that one sequence.
 */
function containSamplingFailures(context: LlamaContext, log: Logger): void {
  type SampleToken = (...args: unknown[]) => Promise<unknown>
  const native = (context as unknown as { _ctx?: { sampleToken?: SampleToken } })._ctx
  const sampleToken = native?.sampleToken?.bind(native)
  if (!native || !sampleToken) return
  Object.defineProperty(native, 'sampleToken', {
    value: async (...args: unknown[]) => {
      try {
        return await sampleToken(...args)
      } catch (error) {
        log.warn({ err: error }, 'a sampling step failed; its request is ended')
        // The native call answers an array when its third argument asks for probabilities.
        return typeof args[2] === 'boolean' ? [-1] : -1
      }
    },
  })
}

/**
 * The context a model config asks for: its size capped at the training context, and a batch that holds
 * a whole prefill chunk plus one token per decoding slot.
 */
export function contextShape(config: ModelConfig, trainContextSize: number): { contextSize: number; batchSize: number } {
  return {
    contextSize: Math.min(config.contextSize, trainContextSize),
    batchSize: Math.max(config.batchSize, config.prefillChunkTokens + config.parallel),
  }
}

/** Deterministic: aligned chunks of prefillChunkTokens; otherwise a prompt takes whatever the batch leaves the decoding slots. */
function prefillPolicy(config: ModelConfig, batchSize: number): PrefillPolicy {
  return config.deterministicPrefill
    ? { deterministic: true, chunkTokens: config.prefillChunkTokens }
    : { deterministic: false, chunkTokens: Math.max(1, batchSize - config.parallel) }
}

/**
 * A thinking model's output starts with its thoughts: a grammar that constrains the answer (tool calls,
 * JSON) lets a `<think>…</think>` segment come first (it must, when the prompt opened it), so the call
 * or the JSON follows the thoughts instead of being forced inside them. A raw GBNF `response_format`
 * is the client's whole-output grammar and stays as it is.
 */
function allowThinking(spec: GrammarSpec, startsInside: boolean): GrammarSpec {
  if (spec.param === 'response_format.grammar') return spec
  const answer = spec.gbnf.replace(/^root ::=/m, 'reasoned-answer ::=')
  const thoughts = `think-text-0 ${JSON.stringify(THINK_CLOSE)} [ \\t\\n]*`
  const root = startsInside ? `root ::= ${thoughts} reasoned-answer` : `root ::= ( ${JSON.stringify(THINK_OPEN)} ${thoughts} )? reasoned-answer`
  return { ...spec, gbnf: [root, answer, ...textWithout(THINK_CLOSE, 'think-text')].join('\n') }
}

function fingerprint(...parts: Array<string | number>): string {
  return `fp_${createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 10)}`
}

function defaultThreads(modelBytes: number): number {
  return modelBytes < SINGLE_THREAD_BELOW_BYTES ? 1 : availableCpus()
}

/** The request field that holds the prompt: chat's messages, or completions' prompt. */
function promptParam(request: GenerationRequest): string {
  return request.input.kind === 'chat' ? 'messages' : 'prompt'
}

/** Bytes in RAM and in VRAM. */
export interface MemoryUsage {
  ram: number
  vram: number
}

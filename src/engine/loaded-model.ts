import { createHash } from 'node:crypto'
import { statSync } from 'node:fs'
import type { LlamaContext, LlamaModel } from 'node-llama-cpp'
import type { Logger } from 'pino'
import type { ModelConfig } from '../config/schema.js'
import { StartupError } from '../errors.js'
import { availableCpus } from './available-cpus.js'
import { batchPasses } from './batch-passes.js'
import { Generation } from './generation.js'
import type { GenerationPlan } from './generation-plan.js'
import { containSamplingFailures, observeBatches } from './native-patches.js'
import { PromptRenderer } from './prompt-renderer.js'
import { RequestPlanner } from './request-planner.js'
import { Slot, type PrefillPolicy } from './slot.js'
import { chooseSlots } from './slot-choice.js'
import { Vocabulary } from './vocabulary.js'
import { version } from '../version.js'

/**
 * Models smaller than this run fastest on one thread: their per-token work is too small to split, and
 * llama.cpp's spinning threads only contend. Measured on 2 cores (decode tok/s, 1 vs 2 threads): a
 * 1.2 MB model 568 vs 109, a 107 MB model 44 vs 56, a 382 MB model 17 vs 28.
 */
const SINGLE_THREAD_BELOW_BYTES = 32 * 1024 * 1024

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
  /** Called for every llama.cpp batch this model's context decodes: its tokens, and the passes over the weights they cost. */
  onBatch: ((batch: { tokens: number; passes: number }) => void) | null = null
  private readonly disposers: Array<() => Promise<void>> = []
  /** Renders and checks requests for this model: GenerationRequest → GenerationPlan. */
  readonly planner: RequestPlanner = new RequestPlanner(this)

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
    observeBatches(context, (parts) => loaded.onBatch?.({ tokens: parts.reduce((sum, p) => sum + p.tokens, 0), passes: batchPasses(parts) }))
    containSamplingFailures(context, log)
    return loaded
  }

  /** Free slots for a request of n choices (see chooseSlots); null when too few are free. */
  pickSlots(plan: GenerationPlan): Slot[] | null {
    const { promptTokens, request } = plan
    // Checked before the prefix scans: a request still waiting for slots asks again at every step.
    if (this.slots.filter((s) => !s.busy).length < request.n) return null
    const salt = request.cacheSalt ?? null
    const candidates = this.slots.map((s) => ({ index: s.index, busy: s.busy, reuse: s.busy ? 0 : s.reusableLength(promptTokens, salt) }))
    return chooseSlots(candidates, request.n)?.map((index) => this.slots[index]!) ?? null
  }

  /** Claims the slots for the plan (the first trims its cache to the reusable prefix), one generation per choice. */
  async start(plan: GenerationPlan, slots: Slot[]): Promise<Generation[]> {
    const salt = plan.request.cacheSalt ?? null
    // Prompt logprobs need every prompt position evaluated, so nothing cached is reused.
    const reuse = plan.request.promptLogprobs ? 0 : slots[0]!.reusableLength(plan.promptTokens, salt)
    for (const slot of slots) {
      slot.busy = true
      slot.salt = salt
    }
    try {
      await slots[0]!.keepPrefix(plan.promptTokens, reuse)
    } catch (error) {
      for (const slot of slots) slot.busy = false
      throw error
    }
    return slots.map((slot, choice) => new Generation(this.model, this.vocabulary, slot, plan, choice, reuse))
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

function fingerprint(...parts: Array<string | number>): string {
  return `fp_${createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 10)}`
}

function defaultThreads(modelBytes: number): number {
  return modelBytes < SINGLE_THREAD_BELOW_BYTES ? 1 : availableCpus()
}

/** Bytes in RAM and in VRAM. */
export interface MemoryUsage {
  ram: number
  vram: number
}

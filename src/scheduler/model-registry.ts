import type { ModelBackend, ModelDefaults, ModelDescription, SubmitOptions } from '../generation/backend.js'
import type { EmbeddingRequest, EmbeddingResult } from '../generation/embedding.js'
import type { GenerationEvent } from '../generation/events.js'
import type { GenerationRequest } from '../generation/request.js'
import type { DetokenizeRequest, TokenizeRequest, TokenizeResult } from '../generation/tokenizing.js'
import type { ModelRouter, RoutedModel } from './model-router.js'

/**
 * The backend as the protocol layer sees it (ModelBackend): models described in plain facts, the
 * defaults a codec decodes against, and every kind of work handed to the model's scheduler, which
 * admits it. Model lifetimes (loads, ttl, eviction) stay the router's.
 */
export class ModelRegistry implements ModelBackend {
  constructor(private readonly router: ModelRouter) {}

  get ready(): boolean {
    return this.router.ready
  }

  describe(): ModelDescription[] {
    return this.router.list().map(describeModel)
  }

  find(name: string): ModelDescription | null {
    const model = this.router.find(name)
    return model ? describeModel(model) : null
  }

  async defaults(model: string | null | undefined): Promise<ModelDefaults> {
    const scheduler = await this.router.acquire(model)
    const { info, config } = scheduler.model
    return {
      id: info.id,
      fingerprint: info.fingerprint,
      maxChoices: config.maxChoices,
      parallel: info.parallel,
      vocabularySize: scheduler.model.vocabulary.size,
      maxFanOut: config.maxFanOut,
      embeddingSize: scheduler.model.model.embeddingVectorSize,
      // The one place the max_tokens default is resolved: the model's default, else its ceiling.
      defaults: { ...config.defaults, maxTokens: config.defaults.maxTokens ?? config.maxTokens, ...(config.seed !== null ? { seed: config.seed } : {}) },
      trustRequestChatTemplate: config.trustRequestChatTemplate,
    }
  }

  submit(request: GenerationRequest, options: SubmitOptions = {}): AsyncIterable<GenerationEvent> {
    const scheduler = this.router.loaded(request.model)
    if (scheduler) return scheduler.submit(request, options)
    // Unloaded since `defaults` (a long decode on a busy server): load it again, then queue.
    return this.submitOnceLoaded(request, options)
  }

  embed(request: EmbeddingRequest, options: SubmitOptions = {}): Promise<EmbeddingResult> {
    return this.router.use(request.model, (scheduler) => scheduler.embed(request, options))
  }

  tokenize(request: TokenizeRequest, options: SubmitOptions = {}): Promise<TokenizeResult> {
    return this.router.use(request.model, (scheduler) => scheduler.tokenize(request, options))
  }

  detokenize(request: DetokenizeRequest, options: SubmitOptions = {}): Promise<string> {
    return this.router.use(request.model, (scheduler) => scheduler.detokenize(request, options))
  }

  private async *submitOnceLoaded(request: GenerationRequest, options: SubmitOptions): AsyncGenerator<GenerationEvent> {
    const scheduler = await this.router.acquire(request.model)
    yield* scheduler.submit(request, options)
  }
}

function describeModel({ config, state, progress, scheduler }: RoutedModel): ModelDescription {
  const loaded = scheduler?.model
  return {
    id: config.id,
    aliases: config.aliases,
    state,
    ...(progress === undefined ? {} : { progress }),
    contextSize: loaded?.info.contextSize ?? config.contextSize,
    created: loaded?.info.created ?? 0,
    slotsTotal: config.parallel,
    slotsBusy: loaded ? loaded.slots.filter((s) => s.busy).length : 0,
    queue: scheduler?.waiting ?? 0,
    kvCacheTokens: loaded?.kvCacheTokens ?? 0,
    loaded: loaded
      ? {
          trainContextSize: loaded.info.trainContextSize,
          gpuLayers: loaded.info.gpuLayers,
          threads: loaded.info.threads,
          sizeBytes: loaded.info.sizeBytes,
          promptFormat: loaded.info.promptFormat,
          weightsMemory: loaded.memoryUsage.weights,
          contextMemory: loaded.memoryUsage.context,
        }
      : null,
  }
}

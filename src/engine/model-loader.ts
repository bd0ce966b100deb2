import { basename } from 'node:path'
import type { Llama, LlamaModel } from 'node-llama-cpp'
import type { Logger } from 'pino'
import type { ModelConfig } from '../config/schema.js'
import { StartupError } from '../errors.js'
import { LoadedModel } from './loaded-model.js'
import { describeShortfall, estimateLoad, freeMemory } from './memory-estimate.js'

interface SharedWeights {
  model: Promise<LlamaModel>
  /** Loaded models (contexts) built on these weights. */
  users: number
}

/**
 * Loads and frees models for the router. Model ids whose source is the same file, with the same GPU
 * layers, share one LlamaModel: the weights are read once and each id gets a context of its own (its own
 * size and slots), so `qwen@8k` and `qwen@32k` cost one copy of the weights. The weights are freed with
 * their last context.
 */
export class ModelLoader {
  private readonly weights = new Map<string, SharedWeights>()

  constructor(
    private readonly llama: Llama,
    /** The local file of every configured source, resolved (and downloaded) at start. */
    private readonly paths: ReadonlyMap<string, string>,
    private readonly log: Logger,
    /** RAM that must stay free after a load. */
    private readonly memoryHeadroomBytes: number,
  ) {}

  /** Why the model cannot be loaded now for want of memory, or null when it fits. */
  async shortfall(config: ModelConfig): Promise<string | null> {
    const path = this.pathOf(config)
    try {
      const shared = this.weights.get(weightsKey(path, config))
      const estimate = await estimateLoad(this.llama, config, path, shared ? await shared.model : null)
      return describeShortfall(config.id, estimate, await freeMemory(this.llama), this.memoryHeadroomBytes)
    } catch (error) {
      // The estimate is a safeguard, not a gate: node-llama-cpp still checks VRAM itself while loading.
      this.log.warn({ model: config.id, problem: (error as Error).message }, 'cannot estimate the memory this model needs')
      return null
    }
  }

  async load(config: ModelConfig): Promise<LoadedModel> {
    const path = this.pathOf(config)
    const key = weightsKey(path, config)
    let weights = this.weights.get(key)
    if (!weights) this.weights.set(key, (weights = { model: this.loadWeights(path, config), users: 0 }))
    weights.users++
    try {
      return await LoadedModel.load(await weights.model, config, path, this.log)
    } catch (error) {
      await this.release(key)
      throw error
    }
  }

  /** Frees the model's context, and its weights when no other id uses them. */
  async unload(loaded: LoadedModel): Promise<void> {
    await loaded.dispose()
    await this.release(weightsKey(loaded.info.path, loaded.config))
  }

  private async loadWeights(path: string, config: ModelConfig): Promise<LlamaModel> {
    const started = performance.now()
    let model: LlamaModel
    try {
      model = await this.llama.loadModel({ modelPath: path, gpuLayers: config.gpuLayers })
    } catch (error) {
      throw new StartupError(`Cannot load model ${path}: ${(error as Error).message}`, { cause: error })
    }
    this.log.info(
      { path, gpuLayers: model.gpuLayers, sizeBytes: model.size, loadMs: Math.round(performance.now() - started) },
      `weights of ${basename(path)} loaded`,
    )
    return model
  }

  private async release(key: string): Promise<void> {
    const weights = this.weights.get(key)!
    if (--weights.users > 0) return
    this.weights.delete(key)
    const model = await weights.model.catch(() => null)
    await model?.dispose()
  }

  private pathOf(config: ModelConfig): string {
    const path = this.paths.get(config.source)
    if (path === undefined) throw new Error(`No local file was resolved for ${config.source}`)
    return path
  }
}

function weightsKey(path: string, config: ModelConfig): string {
  return `${path}\0${config.gpuLayers}`
}

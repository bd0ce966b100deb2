import type { Logger } from 'pino'
import type { ModelConfig } from '../config/schema.js'
import { ModelNotFoundError, UnavailableError } from '../errors.js'
import type { LoadedModel } from '../engine/loaded-model.js'
import { Scheduler } from './scheduler.js'

export type ModelState = 'loading' | 'ready'

interface RoutedModel {
  config: ModelConfig
  scheduler: Scheduler | null
}

/**
 * Maps the `model` field of a request (id or alias) to the scheduler serving it. An empty or omitted
 * `model` means the first configured model. The HTTP port opens before models finish loading, so a
 * known model may still be `loading` (503 with Retry-After, which the SDKs retry).
 */
export class ModelRouter {
  private readonly models: RoutedModel[]
  private readonly byName = new Map<string, RoutedModel>()

  constructor(
    configs: readonly ModelConfig[],
    private readonly options: ConstructorParameters<typeof Scheduler>[1],
  ) {
    this.models = configs.map((config) => ({ config, scheduler: null }))
    for (const model of this.models) {
      for (const name of [model.config.id, ...model.config.aliases]) this.byName.set(name, model)
    }
  }

  /** Makes a loaded model servable. */
  serve(model: LoadedModel): Scheduler {
    const routed = this.byName.get(model.info.id)!
    routed.scheduler = new Scheduler(model, this.options)
    return routed.scheduler
  }

  get ready(): boolean {
    return this.models.every((m) => m.scheduler !== null)
  }

  resolve(name: string | null | undefined): Scheduler {
    const routed = name ? this.byName.get(name) : this.models[0]
    if (!routed) throw new ModelNotFoundError(name ?? '', this.models.map((m) => m.config.id))
    if (!routed.scheduler) {
      throw new UnavailableError(`The model '${routed.config.id}' is still loading; retry shortly.`, 'model_loading', 2)
    }
    return routed.scheduler
  }

  /** Finds a model by id or alias without requiring it to be loaded. */
  find(name: string): { config: ModelConfig; state: ModelState; scheduler: Scheduler | null } | null {
    const routed = this.byName.get(name)
    return routed ? this.describe(routed) : null
  }

  /** Load figures per model, for /health. */
  load(): Array<{ id: string; state: ModelState; slots_busy: number; slots_total: number; queue: number }> {
    return this.models.map((m) => ({
      id: m.config.id,
      state: m.scheduler ? 'ready' : 'loading',
      slots_busy: m.scheduler ? m.scheduler.model.slots.filter((s) => s.busy).length : 0,
      slots_total: m.config.parallel,
      queue: m.scheduler?.waiting ?? 0,
    }))
  }

  list(): Array<{ config: ModelConfig; state: ModelState; scheduler: Scheduler | null }> {
    return this.models.map((m) => this.describe(m))
  }

  /** Stops admission everywhere and waits for in-flight requests. */
  async drain(): Promise<void> {
    await Promise.all(this.models.map((m) => m.scheduler?.drain()))
  }

  async dispose(): Promise<void> {
    await Promise.all(this.models.map((m) => m.scheduler?.model.dispose()))
  }

  private describe(m: RoutedModel) {
    return { config: m.config, state: (m.scheduler ? 'ready' : 'loading') as ModelState, scheduler: m.scheduler }
  }
}

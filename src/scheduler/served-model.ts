import type { ModelConfig } from '../config/schema.js'
import type { ModelState } from '../generation/backend.js'
import type { Scheduler } from './scheduler.js'

export type { ModelState }

/**
 * One configured model id and where it is in its life: unloaded → loading → ready → unloading →
 * unloaded. The router moves it along; this keeps the state and when the model was last used.
 */
export class ServedModel {
  /** Set while loaded (ready, or unloading). */
  scheduler: Scheduler | null = null
  /** The load in flight, shared by every request that waits for it. */
  loading: Promise<Scheduler> | null = null
  unloading = false
  /** Its load waits for a loaded model to fall idle, to stay within engine.maxLoadedModels. */
  waitingForRoom = false
  /** performance.now() of the last request for it, or of the last time it was seen busy. */
  lastUsedAt = 0
  /** Callers holding the loaded model (see ModelRouter.use): it is not unloaded under them. */
  leases = 0

  constructor(readonly config: ModelConfig) {}

  get state(): ModelState {
    if (this.unloading) return 'unloading'
    if (this.scheduler) return 'ready'
    return this.loading ? 'loading' : 'unloaded'
  }

  /** Leased, or requests running or queued (generations, embeddings, tokenizing). */
  get busy(): boolean {
    return this.scheduler !== null && (this.leases > 0 || this.scheduler.active > 0 || this.scheduler.waiting > 0)
  }

  /** Loaded, with nothing running or queued, and unused for at least `ms`. */
  idleFor(ms: number, now: number): boolean {
    return this.state === 'ready' && !this.busy && now - this.lastUsedAt >= ms
  }

  touch(): void {
    this.lastUsedAt = performance.now()
  }
}

import type { ModelConfig } from '../config/schema.js'
import type { ModelLoader } from '../engine/model-loader.js'
import { describeDownloadStatus, type DownloadStatus } from '../models/download-status.js'
import { ModelNotFoundError, ServeError, StartupError, UnavailableError } from '../errors.js'
import { ModelNames } from './model-names.js'
import { Scheduler } from './scheduler.js'
import { ServedModel, type ModelState } from './served-model.js'

export type RouterOptions = ConstructorParameters<typeof Scheduler>[1] & {
  /** Models held in memory at once; loading one more unloads the least recently used idle one. */
  maxLoadedModels: number
  /** How long a request waits for its model to load, room to load it included. */
  loadTimeoutMs: number
  /** Model files still being downloaded at start, by source (filled in by whoever resolves the files). */
  downloads?: ReadonlyMap<string, DownloadStatus>
}

/** A model's state as clients see it: a file still downloading comes before everything else. */
export type ModelStatus = ModelState | 'downloading'

/** Schedulers announce nothing when they fall idle, so a load waiting for room looks again this often. */
const IDLE_POLL_MS = 50
/**
 * A model handed out this recently is not idle yet: its request may still be on the way from the codec
 * to the scheduler's queue (callers that hold it longer take a lease, see `use`).
 */
const RECENT_USE_MS = 500

/**
 * Maps the `model` field of a request (id or alias) to the scheduler serving it, loading models on
 * demand. An empty or omitted `model` means the first configured model.
 *
 * Models marked `preload` load at start; the others load on their first request, which waits for the
 * load (requests that arrive meanwhile share it). At most `maxLoadedModels` are loaded: a load first
 * unloads the least recently used idle model (nothing running or queued), or waits for one to fall idle.
 * A model idle for its `ttl` is unloaded. A Scheduler lives as long as one load of its model.
 */
export class ModelRouter {
  private readonly models: ServedModel[]
  private readonly byName = new ModelNames<ServedModel>()
  /** Loads and unloads run one at a time, so room and memory are judged against a settled set of models. */
  private lifecycle: Promise<unknown> = Promise.resolve()
  private readonly expiring = new Set<ServedModel>()
  private readonly sweeper: NodeJS.Timeout | null
  private started = false
  private closing = false

  constructor(
    configs: readonly ModelConfig[],
    /** Settles once model files are resolved and llama.cpp has started. */
    private readonly engine: Promise<ModelLoader>,
    private readonly options: RouterOptions,
  ) {
    // A failure is reported by preload(); until then it must not count as an unhandled rejection.
    engine.catch(() => {})
    this.models = configs.map((config) => new ServedModel(config))
    for (const model of this.models) {
      for (const name of [model.config.id, ...model.config.aliases]) this.byName.set(name, model)
      options.metrics.modelLoaded.set({ model: model.config.id }, 0)
    }
    const ttls = configs.map((c) => c.ttl).filter((ttl) => ttl > 0)
    // A quarter of the shortest ttl, so a model goes at most 25 % late; at least once a second.
    this.sweeper = ttls.length > 0 ? setInterval(() => this.sweep(), Math.min(1000, Math.min(...ttls) * 250)).unref() : null
  }

  /** Loads the models marked preload, in order; rejects with a StartupError naming the first that cannot load. */
  async preload(): Promise<void> {
    for (const model of this.models.filter((m) => m.config.preload)) {
      try {
        await this.ensureLoaded(model)
      } catch (error) {
        throw error instanceof StartupError ? error : new StartupError((error as Error).message, { cause: error })
      }
    }
    this.started = true
  }

  /** Start-up is over: every preloaded model loaded once. Later unloads (ttl, eviction) do not undo it. */
  get ready(): boolean {
    return this.started
  }

  /** The scheduler of the model, loading it first when needed; waits up to engine.modelLoadTimeoutMs. */
  async acquire(name: string | null | undefined): Promise<Scheduler> {
    const model = this.route(name)
    model.touch()
    if (model.state === 'ready') return model.scheduler!
    if (this.closing) throw shuttingDown()
    // At start (files downloading, preloaded models loading) a request is told how far along it is at
    // once, rather than held for minutes; models loaded on demand later are waited for (seconds).
    if ((this.options.downloads?.size ?? 0) > 0 || (!this.started && model.config.preload)) throw this.notReadyError(model)
    try {
      return await withDeadline(this.ensureLoaded(model), this.options.loadTimeoutMs, () =>
        model.waitingForRoom
          ? this.modelsBusyError(model)
          : new UnavailableError(
              `The model '${model.config.id}' is still loading after ${this.options.loadTimeoutMs} ms ` +
                '(engine.modelLoadTimeoutMs); retry shortly.',
              'model_loading',
              5,
            ),
      )
    } catch (error) {
      if (error instanceof ServeError) throw error
      // The cause (a file path, llama.cpp's words) is logged by the loader, not sent.
      throw new UnavailableError(`The model '${model.config.id}' could not be loaded; the server log has the details.`, 'model_load_failed')
    }
  }

  /**
   * Runs `work` on the model's scheduler (loading it first when needed) under a lease: until `work`
   * settles, the model counts as busy, so neither ttl nor eviction unloads it, and shutdown waits.
   */
  async use<T>(name: string | null | undefined, work: (scheduler: Scheduler) => Promise<T>): Promise<T> {
    const scheduler = await this.acquire(name)
    const model = this.route(name)
    model.leases++
    try {
      return await work(scheduler)
    } finally {
      model.leases--
      model.touch()
    }
  }

  /** The scheduler of a loaded model (no load started), or null. */
  loaded(name: string): Scheduler | null {
    const model = this.byName.get(name)
    return model?.state === 'ready' ? model.scheduler : null
  }

  /** Finds a model by id or alias without loading it. */
  find(name: string): RoutedModel | null {
    const model = this.byName.get(name)
    return model ? this.describe(model) : null
  }

  list(): RoutedModel[] {
    return this.models.map((m) => this.describe(m))
  }

  /** Stops admission and loading everywhere and waits for in-flight requests. */
  async drain(): Promise<void> {
    this.closing = true
    if (this.sweeper) clearInterval(this.sweeper)
    await Promise.all(this.models.map((m) => m.scheduler?.drain()))
  }

  /** Frees every model, once the loads in flight have settled and no lease is held. */
  async dispose(): Promise<void> {
    this.closing = true
    await this.lifecycle
    await Promise.all(this.models.map((m) => leasesReturned(m)))
    const loader = await this.engine.catch(() => null)
    await Promise.all(
      this.models.map(async (m) => {
        if (m.scheduler) await loader?.unload(m.scheduler.model)
        m.scheduler = null
      }),
    )
  }

  private route(name: string | null | undefined): ServedModel {
    const model = name ? this.byName.get(name) : this.models[0]
    if (!model) throw new ModelNotFoundError(name ?? '', this.models.map((m) => m.config.id))
    return model
  }

  private ensureLoaded(model: ServedModel): Promise<Scheduler> {
    if (model.state === 'ready') return Promise.resolve(model.scheduler!)
    model.loading ??= this.serialized(() => this.load(model)).finally(() => {
      model.loading = null
    })
    return model.loading
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.lifecycle.then(work)
    this.lifecycle = run.catch(() => {})
    return run
  }

  private async load(model: ServedModel): Promise<Scheduler> {
    const { id } = model.config
    const { metrics, log } = this.options
    try {
      const loader = await this.engine
      await this.makeRoom(model)
      await this.fitInMemory(loader, model)
      if (this.closing) throw shuttingDown()
      const started = performance.now()
      const loaded = await loader.load(model.config)
      model.scheduler = new Scheduler(loaded, this.options)
      model.touch()
      metrics.modelLoaded.set({ model: id }, 1)
      metrics.modelLoads.inc({ model: id })
      metrics.modelLoadTime.observe({ model: id }, (performance.now() - started) / 1000)
      return model.scheduler
    } catch (error) {
      log.warn({ model: id, problem: (error as Error).message }, `cannot load ${id}`)
      throw error
    }
  }

  /** Unloads least recently used idle models until one more fits under maxLoadedModels, waiting (bounded) for one to fall idle. */
  private async makeRoom(model: ServedModel): Promise<void> {
    const deadline = performance.now() + this.options.loadTimeoutMs
    try {
      while (this.models.filter((m) => m.scheduler).length >= this.options.maxLoadedModels) {
        if (await this.evictIdle()) continue
        if (this.closing) throw shuttingDown()
        if (performance.now() >= deadline) throw this.modelsBusyError(model)
        model.waitingForRoom = true
        await new Promise((resolve) => setTimeout(resolve, IDLE_POLL_MS))
      }
    } finally {
      model.waitingForRoom = false
    }
  }

  /** Unloads idle models while the estimate says the model would not fit; 503 model_too_large when it still does not. */
  private async fitInMemory(loader: ModelLoader, model: ServedModel): Promise<void> {
    for (;;) {
      const shortfall = await loader.shortfall(model.config)
      if (shortfall === null) return
      if (!(await this.evictIdle())) throw new UnavailableError(shortfall, 'model_too_large', 60)
    }
  }

  /** Unloads the least recently used idle model; false when there is none. */
  private async evictIdle(): Promise<boolean> {
    const now = performance.now()
    const idle = this.models.filter((m) => m.idleFor(RECENT_USE_MS, now)).sort((a, b) => a.lastUsedAt - b.lastUsedAt)
    if (idle.length === 0) return false
    await this.unload(idle[0]!, 'evicted')
    return true
  }

  private async unload(model: ServedModel, reason: 'ttl' | 'evicted'): Promise<void> {
    const { id } = model.config
    const scheduler = model.scheduler!
    // Before anything is awaited: from here on requests for it wait for a fresh load.
    model.unloading = true
    const started = performance.now()
    const idleS = Math.round((started - model.lastUsedAt) / 100) / 10
    try {
      // Only idle models are unloaded, so this only closes admission; nothing is freed while leased.
      await scheduler.drain()
      await leasesReturned(model)
      this.options.metrics.unwatch(id)
      await (await this.engine).unload(scheduler.model)
    } finally {
      model.scheduler = null
      model.unloading = false
    }
    this.options.metrics.modelLoaded.set({ model: id }, 0)
    this.options.metrics.modelUnloads.inc({ model: id, reason })
    this.options.log.info(
      { model: id, reason, idleS, unloadMs: Math.round(performance.now() - started) },
      `unloaded ${id}: ${reason === 'ttl' ? `idle for ${idleS} s` : 'room for another model'}`,
    )
  }

  /** Keeps busy models' last use current and unloads those idle past their ttl. */
  private sweep(): void {
    const now = performance.now()
    for (const model of this.models) {
      if (model.busy) model.touch()
      const ttlMs = model.config.ttl * 1000
      if (ttlMs === 0 || this.closing || this.expiring.has(model) || !model.idleFor(ttlMs, now)) continue
      this.expiring.add(model)
      this.serialized(async () => {
        // A request may have come while the unload waited for its turn.
        if (model.idleFor(ttlMs, performance.now())) await this.unload(model, 'ttl')
      })
        .catch((error: unknown) => this.options.log.error({ model: model.config.id, err: error }, 'unload failed'))
        .finally(() => this.expiring.delete(model))
    }
  }

  private describe(model: ServedModel): RoutedModel {
    return { config: model.config, ...this.statusOf(model), scheduler: model.scheduler }
  }

  private statusOf(model: ServedModel): { state: ModelStatus; progress?: string } {
    const download = this.options.downloads?.get(model.config.source)
    return download ? { state: 'downloading', progress: describeDownloadStatus(download) } : { state: model.state }
  }

  /** 503 with Retry-After and how far the download or load is, e.g. "downloading 41 %, 12 s left". */
  private notReadyError(model: ServedModel): UnavailableError {
    const download = this.options.downloads?.get(model.config.source)
    const secondsLeft = download?.secondsLeft ?? null
    // Soon enough to see progress, never so long that an SDK's retry gives up waiting (they cap at 60 s).
    const retryAfterS = download ? Math.min(10, Math.max(1, Math.ceil(secondsLeft ?? 5))) : 2
    const downloading = (this.options.downloads?.size ?? 0) > 0
    const progress = download
      ? describeDownloadStatus(download)
      : downloading
        ? 'the files of other models are still downloading'
        : 'loading'
    return new UnavailableError(
      `The model '${model.config.id}' is not ready yet: ${progress}. Retry in ${retryAfterS} s.`,
      downloading ? 'model_downloading' : 'model_loading',
      retryAfterS,
    )
  }

  private modelsBusyError(model: ServedModel): UnavailableError {
    return new UnavailableError(
      `The model '${model.config.id}' is not loaded, and all ${this.options.maxLoadedModels} loaded models ` +
        '(engine.maxLoadedModels) stayed busy; retry later.',
      'models_busy',
      5,
    )
  }
}

/** A configured model as the router sees it: its config, where it is in its life, its scheduler while loaded. */
export interface RoutedModel {
  config: ModelConfig
  state: ModelStatus
  /** While downloading: "downloading 41 %, 12 s left". */
  progress?: string
  scheduler: Scheduler | null
}

/** Resolves once nobody holds the model (a lease ends when its work settles, so this is bounded by the work). */
async function leasesReturned(model: ServedModel): Promise<void> {
  while (model.leases > 0) await new Promise((resolve) => setTimeout(resolve, IDLE_POLL_MS))
}

function shuttingDown(): UnavailableError {
  return new UnavailableError('The server is shutting down.', 'shutting_down')
}

/** Settles with `work`, or rejects with `timeoutError()` after `ms`; `work` goes on either way. */
async function withDeadline<T>(work: Promise<T>, ms: number, timeoutError: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeoutError()), ms)
  })
  try {
    return await Promise.race([work, timeout])
  } finally {
    clearTimeout(timer)
  }
}

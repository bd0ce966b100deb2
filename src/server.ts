import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { LoadedConfig } from './config/load-config.js'
import type { Config, ModelConfig } from './config/schema.js'
import { createLlamaRuntime } from './engine/llama-runtime.js'
import { ModelLoader } from './engine/model-loader.js'
import type { DownloadStatus } from './models/download-status.js'
import { resolveModelSource } from './models/resolve-model.js'
import { describeModelSource } from './models/source-uri.js'
import { StartupError } from './errors.js'
import { buildApp } from './http/app.js'
import { trackConnections } from './http/connection-drain.js'
import { ServeMetrics } from './observability/metrics.js'
import { ModelRegistry } from './scheduler/model-registry.js'
import { ModelRouter } from './scheduler/model-router.js'

export interface RunningServer {
  app: FastifyInstance
  router: ModelRouter
  /** The backend face the routes use. */
  models: ModelRegistry
  metrics: ServeMetrics
  url: string
  /** Resolves when every preloaded model is loaded; rejects with a StartupError if one cannot be. */
  ready: Promise<void>
  /** Graceful stop: no new requests, in-flight ones finish within the grace period, models freed. */
  close(): Promise<void>
}

/**
 * Opens the HTTP port first (so /health can answer "loading"), while the model files are resolved and
 * downloaded and llama.cpp starts; then loads the models marked preload. The others load on first use.
 */
export async function startServer({ config, models }: LoadedConfig, log: Logger): Promise<RunningServer> {
  if (models.length === 0) {
    throw new StartupError('No model configured: the config file sets "models: []". Pass --model <path|name|hf:URI|URL> or list models.')
  }
  const metrics = new ServeMetrics()
  // Aborted by close(): Ctrl-C during a download stops it at once, keeping the partial file.
  const startup = new AbortController()
  const downloads = new Map<string, DownloadStatus>()
  const router = new ModelRouter(models, openEngine(config, models, log, downloads, startup.signal), {
    queueMax: config.server.queueMax,
    requestTimeoutMs: config.server.requestTimeoutMs,
    maxLoadedModels: config.engine.maxLoadedModels,
    loadTimeoutMs: config.engine.modelLoadTimeoutMs,
    downloads,
    log,
    metrics,
  })
  const registry = new ModelRegistry(router)
  const app = await buildApp({ config, models: registry, log, metrics })
  const connections = trackConnections(app.server)
  const address = await app.listen({ host: config.server.host, port: config.server.port })
  log.info({ url: address }, `listening on ${address}`)
  const ready = router.preload().then(() => log.info('ready'))

  let closing: Promise<void> | null = null
  const close = () =>
    (closing ??= (async () => {
      startup.abort()
      const grace = setTimeout(() => {
        log.warn(`grace period of ${config.server.shutdownGraceMs} ms over: closing the remaining connections`)
        app.server.closeAllConnections()
      }, config.server.shutdownGraceMs)
      const drained = Promise.all([app.close(), router.drain()])
      connections.closeIdle()
      await drained
      clearTimeout(grace)
      await ready.catch(() => {})
      await router.dispose()
    })())

  return { app, router, models: registry, metrics, url: address, ready, close }
}

/**
 * Every model's file is resolved (downloaded if needed) at start, lazily loaded ones too: a missing or
 * broken file is reported now, not at some first request, and before the native backend spends time
 * starting. Ids that share a source share the file.
 */
async function openEngine(
  config: Config,
  models: readonly ModelConfig[],
  log: Logger,
  downloads: Map<string, DownloadStatus>,
  signal: AbortSignal,
): Promise<ModelLoader> {
  const paths = new Map<string, string>()
  for (const { source } of models) {
    if (paths.has(source)) continue
    const options = { ...config.download, log, signal, onStatus: (status: DownloadStatus) => downloads.set(source, status) }
    try {
      paths.set(source, await resolveModelSource(source, options))
    } catch (error) {
      throw signal.aborted || describeModelSource(source).kind === 'path' ? error : withFixHint(error, source)
    } finally {
      downloads.delete(source)
    }
  }
  signal.throwIfAborted()
  const llama = await createLlamaRuntime(config.engine.gpu, log)
  return new ModelLoader(llama, paths, log, config.engine.memoryHeadroomBytes)
}

/** A remote model that cannot be fetched and is not cached: the same line says how to get going. */
function withFixHint(error: unknown, source: string): unknown {
  if (!(error instanceof StartupError)) return error
  return new StartupError(
    `${error.message} To fix: check the network (or --hf-endpoint for a mirror) and download it ahead with ` +
      `"npx gguf-serve pull ${source}", or serve a local file with "npx gguf-serve start --model ./path/to/model.gguf".`,
    { cause: error },
  )
}

import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { LoadedConfig } from './config/load-config.js'
import { LoadedModel } from './engine/loaded-model.js'
import { createLlamaRuntime } from './engine/llama-runtime.js'
import { resolveModelSource } from './engine/model-source.js'
import { StartupError } from './errors.js'
import { buildApp } from './http/app.js'
import { ServeMetrics } from './observability/metrics.js'
import { ModelRouter } from './scheduler/model-router.js'

export interface RunningServer {
  app: FastifyInstance
  router: ModelRouter
  metrics: ServeMetrics
  url: string
  /** Resolves when every model is loaded; rejects with a StartupError if one cannot be. */
  ready: Promise<void>
  /** Graceful stop: no new requests, in-flight ones finish within the grace period, models freed. */
  close(): Promise<void>
}

/**
 * Opens the HTTP port first (so /health can answer "loading"), then resolves, downloads and loads the
 * models in the background.
 */
export async function startServer({ config, models }: LoadedConfig, log: Logger): Promise<RunningServer> {
  if (models.length === 0) {
    throw new StartupError('No model configured: pass --model <path|hf:URI|URL> or list models in the config file.')
  }
  const metrics = new ServeMetrics()
  const router = new ModelRouter(models, {
    queueMax: config.server.queueMax,
    requestTimeoutMs: config.server.requestTimeoutMs,
    log,
    metrics,
  })
  const app = await buildApp({ config, router, log, metrics })
  const address = await app.listen({ host: config.server.host, port: config.server.port })
  log.info({ url: address }, `listening on ${address}`)

  const ready = (async () => {
    // Files first: a missing or broken model is reported before the native backend spends time starting.
    const paths: string[] = []
    for (const model of models) {
      paths.push(
        await resolveModelSource(model.source, {
          cacheDir: config.download.cacheDir,
          hfEndpoint: config.download.hfEndpoint,
          hfToken: config.download.hfToken,
          log,
        }),
      )
    }
    const llama = await createLlamaRuntime(config.engine.gpu, log)
    for (const [i, model] of models.entries()) router.serve(await LoadedModel.load(llama, model, paths[i]!, log))
    log.info('ready')
  })()

  let closing: Promise<void> | null = null
  const close = () =>
    (closing ??= (async () => {
      const grace = setTimeout(() => {
        log.warn(`grace period of ${config.server.shutdownGraceMs} ms over: closing the remaining connections`)
        app.server.closeAllConnections()
      }, config.server.shutdownGraceMs)
      await Promise.all([app.close(), router.drain()])
      clearTimeout(grace)
      await ready.catch(() => {})
      await router.dispose()
    })())

  return { app, router, metrics, url: address, ready, close }
}

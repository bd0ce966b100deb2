import { loadConfig, parseModelArgument } from '../config/load-config.js'
import { DEFAULT_MODEL } from '../models/default-model.js'
import { resolveModelSource } from '../models/resolve-model.js'
import { createLogger } from '../observability/logger.js'

/**
 * `gguf-serve pull [source]`: downloads the model into the cache (or finds it there, validated) and
 * prints its local path on stdout, alone, for scripts; progress and logs go to stderr. It takes what
 * `--model` takes (`[id=]source`; the id is ignored), and without a source the default model.
 * SIGINT/SIGTERM abort the download at once, keeping the partial file for the next pull or start.
 */
export async function pull(argument: string | undefined, flags: Record<string, unknown>): Promise<void> {
  const { config } = loadConfig({ flags, env: process.env })
  const log = createLogger(config.log.level, config.log.format)
  const source = argument === undefined ? DEFAULT_MODEL.source : String(parseModelArgument(argument).source)
  const controller = new AbortController()
  const abort = (signal: string) => {
    log.info({ signal }, 'stopping the download')
    controller.abort()
    // The abort settles at once unless the machine is swamped; the partial file is on disk either way.
    setTimeout(() => {
      process.stderr.write(`gguf-serve: download of ${source} interrupted; the partial file stays in ${config.download.cacheDir}\n`)
      process.exit(1)
    }, 1_500).unref()
  }
  process.once('SIGINT', abort)
  process.once('SIGTERM', abort)
  // The bar is drawn on stdout, so only when a person is watching it.
  const file = await resolveModelSource(source, {
    ...config.download,
    log,
    progress: process.stdout.isTTY ? 'bar' : 'log',
    signal: controller.signal,
  })
  process.stdout.write(`${file}\n`)
}

import { loadConfig } from '../config/load-config.js'
import { resolveModelSource } from '../models/resolve-model.js'
import { createLogger } from '../observability/logger.js'

/**
 * `gguf-serve pull <source>`: downloads the model into the cache (or finds it there, validated) and
 * prints its local path on stdout, alone, for scripts; progress and logs go to stderr.
 */
export async function pull(source: string, flags: Record<string, unknown>): Promise<void> {
  const { config } = loadConfig({ flags, env: process.env })
  const log = createLogger(config.log.level)
  // The bar is drawn on stdout, so only when a person is watching it.
  const file = await resolveModelSource(source, { ...config.download, log, progress: process.stdout.isTTY ? 'bar' : 'log' })
  process.stdout.write(`${file}\n`)
}

import { rm } from 'node:fs/promises'
import { loadConfig } from '../config/load-config.js'
import { StartupError } from '../errors.js'
import { findCachedSource } from '../models/resolve-model.js'
import { createLogger } from '../observability/logger.js'

/** `gguf-serve rm NAME`: deletes a cached model, and the unfinished download beside it, if any. */
export async function removeModel(name: string, flags: Record<string, unknown>): Promise<void> {
  const { config } = loadConfig({ flags, env: process.env })
  const log = createLogger('silent')
  const file = await findCachedSource(name, { ...config.download, log })
  if (file === undefined) {
    throw new StartupError(`No cached model "${name}" in ${config.download.cacheDir}; "gguf-serve models" lists them.`)
  }
  await rm(file)
  await rm(`${file}.ipull`, { force: true })
  process.stdout.write(`removed ${file}\n`)
}

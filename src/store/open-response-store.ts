import type { Logger } from 'pino'
import type { Config } from '../config/schema.js'
import { StartupError } from '../errors.js'
import { MemoryResponseStore } from './memory-response-store.js'
import type { ResponseStore } from './response-store.js'

/** The configured store: none (`--no-store`), in-process (the default) or Redis (`--responses-store redis://…`). */
export async function openResponseStore(config: Config['responses'], log: Logger): Promise<ResponseStore | null> {
  if (!config.store) return null
  const limits = { maxEntries: config.maxEntries, maxBytes: config.maxBytes, ttlMs: config.ttlMs }
  if (!config.storeUrl) return new MemoryResponseStore(limits)
  const url = config.storeUrl
  if (!/^rediss?:\/\//.test(url)) throw new StartupError(`responses.storeUrl must be a redis:// or rediss:// URL; got '${url}'.`)
  // Imported only when used: the Redis client is a large module tree that a server without it need not load.
  const { RedisResponseStore } = await import('./redis-response-store.js')
  try {
    return await RedisResponseStore.connect(url, limits, { prefix: config.redisKeyPrefix, log })
  } catch (error) {
    // The URL may carry a password: only its host is named.
    throw new StartupError(`Cannot connect to the responses store at ${new URL(url).host} (responses.storeUrl): ${(error as Error).message}`, { cause: error })
  }
}

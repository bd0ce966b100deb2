import { createClient } from 'redis'
import type { Logger } from 'pino'
import { findItem, itemIds, type ResponseStore, type StoreLimits, type StoredResponse } from './response-store.js'

const newClient = (url: string, reconnectStrategy: (retries: number, cause: Error) => number | Error) =>
  createClient({ url, socket: { connectTimeout: 5000, reconnectStrategy } })
type RedisClient = ReturnType<typeof newClient>

/**
 * Stored responses in Redis, shared by every replica pointed at it. Keys under one prefix:
 * `r:<id>` the response (JSON, expiring after the TTL), `i:<item id>` → the response holding the item,
 * `index` a sorted set of ids by time stored (`seq` orders writes within a millisecond), `sizes` a hash of
 * their byte sizes and `bytes` the sum.
 * After each write the oldest responses are removed until the entry and byte bounds hold again (those
 * past their TTL first); replicas writing at once may overshoot a bound by their own writes, briefly.
 * Redis's own `maxmemory` stays the hard limit (see deploy/redis.md).
 */
export class RedisResponseStore implements ResponseStore {
  private constructor(
    private readonly client: RedisClient,
    private readonly limits: StoreLimits,
    private readonly prefix: string,
    private readonly now: () => number,
  ) {}

  /** Connects (and fails at start, naming the URL's host, when Redis cannot be reached). */
  static async connect(url: string, limits: StoreLimits, options: { prefix: string; log: Logger; now?: () => number }): Promise<RedisResponseStore> {
    let connected = false
    // Reconnect after a dropped connection; but a first connection that fails is a start-up error, not a wait.
    const reconnectStrategy = (retries: number, cause: Error) => (connected ? Math.min(100 * 2 ** retries, 5000) : cause)
    const client = newClient(url, reconnectStrategy)
    // Without a listener a dropped connection would be an uncaught 'error' event; requests meanwhile fail with 500.
    client.on('error', (error: Error) => options.log.warn({ err: error }, 'responses store: Redis connection error'))
    await client.connect()
    connected = true
    return new RedisResponseStore(client, limits, options.prefix, options.now ?? Date.now)
  }

  async put(record: StoredResponse): Promise<void> {
    const id = record.response.id
    const json = JSON.stringify(record)
    const bytes = Buffer.byteLength(json)
    if (bytes > this.limits.maxBytes) return
    const px = { expiration: { type: 'PX' as const, value: this.limits.ttlMs } }
    // Milliseconds, and a shared counter below them: writes in the same millisecond (any replica) keep their order.
    const score = this.now() + ((await this.client.incr(this.key('seq'))) % 1000) / 1000
    const multi = this.client.multi().set(this.key('r', id), json, px)
    for (const item of itemIds(record)) multi.set(this.key('i', item), id, px)
    await multi
      .zAdd(this.key('index'), { score, value: id })
      .hSet(this.key('sizes'), id, bytes)
      .incrBy(this.key('bytes'), bytes)
      .exec()
    await this.evict()
  }

  async get(id: string): Promise<StoredResponse | null> {
    const json = await this.client.get(this.key('r', id))
    return json === null ? null : (JSON.parse(json) as StoredResponse)
  }

  async getItem(id: string): Promise<StoredResponse['input'][number] | null> {
    const owner = await this.client.get(this.key('i', id))
    const record = owner === null ? null : await this.get(owner)
    return record && findItem(record, id)
  }

  async delete(id: string): Promise<boolean> {
    const existed = (await this.client.exists(this.key('r', id))) === 1
    await this.remove(id)
    return existed
  }

  async close(): Promise<void> {
    if (this.client.isOpen) await this.client.close()
  }

  private async evict(): Promise<void> {
    const expiredBefore = this.now() - this.limits.ttlMs
    for (;;) {
      const [oldest] = await this.client.zRangeWithScores(this.key('index'), 0, 0)
      if (!oldest) return
      const count = await this.client.zCard(this.key('index'))
      const bytes = Number((await this.client.get(this.key('bytes'))) ?? 0)
      if (oldest.score > expiredBefore && count <= this.limits.maxEntries && bytes <= this.limits.maxBytes) return
      await this.remove(oldest.value)
    }
  }

  private async remove(id: string): Promise<void> {
    const size = Number((await this.client.hGet(this.key('sizes'), id)) ?? 0)
    await this.client
      .multi()
      .del(this.key('r', id))
      .zRem(this.key('index'), id)
      .hDel(this.key('sizes'), id)
      .decrBy(this.key('bytes'), size)
      .exec()
  }

  private key(kind: 'r' | 'i' | 'index' | 'sizes' | 'bytes' | 'seq', id?: string): string {
    return id === undefined ? `${this.prefix}${kind}` : `${this.prefix}${kind}:${id}`
  }
}

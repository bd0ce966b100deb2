import { randomBytes } from 'node:crypto'
import { createLogger } from '../src/observability/logger.js'
import { afterAll, describe, expect, it } from 'vitest'
import { decodeResponseRequest } from '../src/api/codec/responses-request.js'
import { ResponseEventEncoder } from '../src/api/codec/responses-stream.js'
import { MemoryResponseStore } from '../src/store/memory-response-store.js'
import { RedisResponseStore } from '../src/store/redis-response-store.js'
import type { ResponseStore, StoreLimits, StoredResponse } from '../src/store/response-store.js'

/**
 * The store contract, run against both implementations. Redis tests need a real redis-server: CI starts one
 * and passes GGUF_SERVE_TEST_REDIS_URL (.ci/run); elsewhere they are skipped when it is unset, never in CI.
 */
const REDIS_URL = process.env.GGUF_SERVE_TEST_REDIS_URL
if (process.env.CI && !REDIS_URL) throw new Error('CI must run the Redis store tests: set GGUF_SERVE_TEST_REDIS_URL (.ci/run starts a redis-server).')

const ctx = { model: 'm', limits: { maxChoices: 1, defaults: {}, trustRequestChatTemplate: false }, prior: [], references: new Map(), store: true }

/** A completed response whose input holds `text`. */
function record(text: string): StoredResponse {
  const decoded = decodeResponseRequest({ input: text }, ctx)
  const encoder = new ResponseEventEncoder({ id: `resp_${randomBytes(8).toString('hex')}`, createdAt: 1, model: 'm' }, decoded.echo)
  encoder.push({ type: 'text', choice: 0, text: 'answer', tokens: 1 })
  encoder.push({ type: 'finished', choice: 0, reason: 'stop', stopReason: null, usage: { promptTokens: 1, completionTokens: 1, cachedTokens: 0 } })
  return { response: encoder.response, input: decoded.input, context: decoded.context }
}

const size = (r: StoredResponse) => Buffer.byteLength(JSON.stringify(r))

type Clock = { now: number }
type Open = (limits: StoreLimits, clock: Clock) => Promise<ResponseStore>

function contract(name: string, open: Open) {
  describe(name, () => {
    const opened: ResponseStore[] = []
    const make = async (limits: Partial<StoreLimits> = {}, clock: Clock = { now: 1_000_000 }) => {
      const store = await open({ maxEntries: 100, maxBytes: 1 << 20, ttlMs: 60_000, ...limits }, clock)
      opened.push(store)
      return store
    }
    afterAll(async () => {
      for (const store of opened) await store.close()
    })

    it('put, get (an equal copy), getItem by input and output item id, delete', async () => {
      const store = await make()
      const r = record('hello')
      await store.put(r)
      expect(await store.get(r.response.id)).toEqual(r)
      expect(await store.getItem(r.input[0]!.id)).toEqual(r.input[0])
      expect(await store.getItem(r.response.output[0]!.id)).toEqual(r.response.output[0])
      expect(await store.delete(r.response.id)).toBe(true)
      expect(await store.get(r.response.id)).toBeNull()
      expect(await store.getItem(r.input[0]!.id)).toBeNull()
      expect(await store.delete(r.response.id)).toBe(false)
      expect(await store.get('resp_missing')).toBeNull()
    })

    it('bounded by entries: the oldest go first', async () => {
      const store = await make({ maxEntries: 3 })
      const records = Array.from({ length: 5 }, (_, i) => record(`entry ${i}`))
      for (const r of records) await store.put(r)
      const kept = await Promise.all(records.map(async (r) => (await store.get(r.response.id)) !== null))
      expect(kept).toEqual([false, false, true, true, true])
    })

    it('bounded by bytes: older entries go until the new one fits; one larger than the bound is not stored', async () => {
      const records = Array.from({ length: 4 }, (_, i) => record(`bytes ${i}`))
      const store = await make({ maxBytes: size(records[0]!) * 2 + 10 })
      for (const r of records) await store.put(r)
      const kept = await Promise.all(records.map(async (r) => (await store.get(r.response.id)) !== null))
      expect(kept).toEqual([false, false, true, true])
      const huge = record('x'.repeat(size(records[0]!) * 3))
      await store.put(huge)
      expect(await store.get(huge.response.id)).toBeNull()
      expect(await store.get(records[3]!.response.id)).not.toBeNull()
    })

    it('entries expire after the TTL', async () => {
      const clock = { now: 5_000_000 }
      const store = await make({ ttlMs: 1000 }, clock)
      const old = record('old')
      await store.put(old)
      clock.now += 1500
      await store.put(record('new')) // a write evicts what has expired
      if (store instanceof MemoryResponseStore) expect(await store.get(old.response.id)).toBeNull()
      else await expect.poll(async () => store.get(old.response.id), { timeout: 5000 }).toBeNull() // Redis expires on its own clock too
    })
  })
}

contract('in-process store', async (limits, clock) => new MemoryResponseStore(limits, () => clock.now))

if (REDIS_URL) {
  const log = createLogger('silent')
  contract('Redis store (a real redis-server)', (limits, clock) =>
    // Each store its own key prefix: the tests share one server.
    RedisResponseStore.connect(REDIS_URL, limits, { prefix: `test:${randomBytes(6).toString('hex')}:`, log, now: () => clock.now }),
  )

  it('two stores on one Redis share responses (replicas behind a load balancer)', async () => {
    const prefix = `test:${randomBytes(6).toString('hex')}:`
    const limits = { maxEntries: 10, maxBytes: 1 << 20, ttlMs: 60_000 }
    const a = await RedisResponseStore.connect(REDIS_URL, limits, { prefix, log })
    const b = await RedisResponseStore.connect(REDIS_URL, limits, { prefix, log })
    const r = record('shared')
    await a.put(r)
    expect(await b.get(r.response.id)).toEqual(r)
    expect(await b.delete(r.response.id)).toBe(true)
    expect(await a.get(r.response.id)).toBeNull()
    await a.close()
    await b.close()
  })

  it('an unreachable Redis fails at connect, not later', async () => {
    await expect(RedisResponseStore.connect('redis://127.0.0.1:1', { maxEntries: 1, maxBytes: 1024, ttlMs: 1000 }, { prefix: 'x:', log })).rejects.toThrow()
  })
} else {
  it.skip('Redis store: set GGUF_SERVE_TEST_REDIS_URL to run against a redis-server', () => {})
}

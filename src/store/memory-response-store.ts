import { findItem, itemIds, type ResponseStore, type StoreLimits, type StoredResponse } from './response-store.js'

interface Entry {
  json: string
  bytes: number
  expiresAt: number
  items: string[]
}

/**
 * Stored responses in this process: a Map in least-recently-used order (a read moves an entry to the end),
 * bounded by entries and bytes, each entry expiring after the TTL. Entries are kept as JSON text, so the
 * byte bound is what they really hold and a caller can never change a stored response.
 */
export class MemoryResponseStore implements ResponseStore {
  private readonly entries = new Map<string, Entry>()
  /** Item id → the response holding it. */
  private readonly items = new Map<string, string>()
  private bytes = 0

  constructor(
    private readonly limits: StoreLimits,
    private readonly now: () => number = Date.now,
  ) {}

  async put(record: StoredResponse): Promise<void> {
    const json = JSON.stringify(record)
    const bytes = Buffer.byteLength(json)
    this.remove(record.response.id)
    if (bytes > this.limits.maxBytes) return
    const entry = { json, bytes, expiresAt: this.now() + this.limits.ttlMs, items: itemIds(record) }
    this.entries.set(record.response.id, entry)
    for (const item of entry.items) this.items.set(item, record.response.id)
    this.bytes += bytes
    this.evict()
  }

  async get(id: string): Promise<StoredResponse | null> {
    const entry = this.entries.get(id)
    if (!entry) return null
    if (entry.expiresAt <= this.now()) {
      this.remove(id)
      return null
    }
    this.entries.delete(id)
    this.entries.set(id, entry)
    return JSON.parse(entry.json) as StoredResponse
  }

  async getItem(id: string): Promise<StoredResponse['input'][number] | null> {
    const owner = this.items.get(id)
    const record = owner === undefined ? null : await this.get(owner)
    return record && findItem(record, id)
  }

  async delete(id: string): Promise<boolean> {
    const existed = (await this.get(id)) !== null
    this.remove(id)
    return existed
  }

  async close(): Promise<void> {
    this.entries.clear()
    this.items.clear()
    this.bytes = 0
  }

  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes }
  }

  /** Oldest first (Map order), until both bounds hold; expired entries go whatever their place. */
  private evict(): void {
    const now = this.now()
    for (const [id, entry] of this.entries) {
      if (entry.expiresAt <= now) this.remove(id)
    }
    for (const id of this.entries.keys()) {
      if (this.entries.size <= this.limits.maxEntries && this.bytes <= this.limits.maxBytes) break
      this.remove(id)
    }
  }

  private remove(id: string): void {
    const entry = this.entries.get(id)
    if (!entry) return
    this.entries.delete(id)
    this.bytes -= entry.bytes
    for (const item of entry.items) if (this.items.get(item) === id) this.items.delete(item)
  }
}

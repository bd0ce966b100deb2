import type { ResponseItem } from '../api/codec/responses-items.js'
import type { ResponseObject } from '../api/codec/responses-stream.js'

/** One stored response: what `GET /v1/responses/{id}` returns, and what `previous_response_id` continues. */
export interface StoredResponse {
  response: ResponseObject
  /** The request's own input items (listed by input_items). */
  input: ResponseItem[]
  /**
   * The conversation before the output (the previous response's context and output, then `input`), so
   * that one read continues a chain, and a chain survives the eviction of its earlier responses.
   */
  context: ResponseItem[]
}

export interface StoreLimits {
  /** Responses kept at most; the oldest go first (in process: the least recently used). */
  maxEntries: number
  /** Bytes of stored JSON at most; a single response larger than this is not stored. */
  maxBytes: number
  /** A response is dropped this long after it was stored. */
  ttlMs: number
}

/**
 * Where stored responses live: in this process (the default) or in Redis, so that replicas behind one
 * load balancer share conversations. Every implementation is bounded by StoreLimits.
 */
export interface ResponseStore {
  put(record: StoredResponse): Promise<void>
  /** null: never stored, deleted, evicted or expired. */
  get(id: string): Promise<StoredResponse | null>
  /** An input or output item of a stored response, by its id (for `item_reference` inputs). */
  getItem(id: string): Promise<ResponseItem | null>
  /** false: there was nothing to delete. */
  delete(id: string): Promise<boolean>
  close(): Promise<void>
}

export function itemIds(record: StoredResponse): string[] {
  return [...record.input, ...record.response.output].map((item) => item.id)
}

export function findItem(record: StoredResponse, id: string): ResponseItem | null {
  return [...record.response.output, ...record.context].find((item) => item.id === id) ?? null
}

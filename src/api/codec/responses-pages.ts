import { InvalidRequestError } from '../../errors.js'
import type { InputItemsQuery } from '../schemas/responses.js'
import type { ResponseItem } from './responses-items.js'

export interface ItemPage {
  object: 'list'
  data: ResponseItem[]
  first_id: string | null
  last_id: string | null
  has_more: boolean
}

/**
 * One page of a response's input items, as OpenAI's cursor lists: `order` desc (the default) lists the
 * newest first, `after` is the id the previous page ended with, `limit` 1–100 (default 20).
 */
export function encodeItemPage(items: readonly ResponseItem[], query: InputItemsQuery): ItemPage {
  const ordered = query.order === 'asc' ? [...items] : [...items].reverse()
  let start = 0
  if (query.after !== undefined) {
    const at = ordered.findIndex((item) => item.id === query.after)
    if (at < 0) throw new InvalidRequestError(`'after' names no item of this response: '${query.after}'.`, 'after')
    start = at + 1
  }
  const limit = query.limit === undefined ? 20 : Number(query.limit)
  const data = ordered.slice(start, start + limit)
  return { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: start + limit < ordered.length }
}

import type { ServeError } from '../../errors.js'
import type { GenerationEvent, Usage } from '../../generation/events.js'
import { newItemId, type FunctionCallItem, type MessageItem, type ReasoningItem, type ResponseItem } from './responses-items.js'
import type { ResponseEcho } from './responses-request.js'

export interface ResponseUsage {
  input_tokens: number
  input_tokens_details: { cached_tokens: number }
  output_tokens: number
  output_tokens_details: { reasoning_tokens: number }
  total_tokens: number
}

export type ResponseStatus = 'in_progress' | 'completed' | 'incomplete' | 'failed'

/** The response object, as OpenAI returns it: its own fields around the echoed request fields. */
export type ResponseObject = {
  id: string
  object: 'response'
  created_at: number
  status: ResponseStatus
  completed_at: number | null
  error: { code: string; message: string } | null
  incomplete_details: { reason: 'max_output_tokens' } | null
  model: string
  output: ResponseItem[]
  usage: ResponseUsage | null
} & ResponseEcho

/** One streamed event: its `type` names it (and the SSE `event:` line), `sequence_number` orders it. */
export type ResponseStreamEvent = { type: string; sequence_number: number; [key: string]: unknown }

export interface ResponseMeta {
  id: string
  createdAt: number
  model: string
}

export function newResponseMeta(model: string): ResponseMeta {
  return { id: newItemId('resp'), createdAt: Math.floor(Date.now() / 1000), model }
}

export function encodeResponseUsage(usage: Usage): ResponseUsage {
  return {
    input_tokens: usage.promptTokens,
    input_tokens_details: { cached_tokens: usage.cachedTokens },
    output_tokens: usage.completionTokens,
    output_tokens_details: { reasoning_tokens: usage.reasoningTokens ?? 0 },
    total_tokens: usage.promptTokens + usage.completionTokens,
  }
}

type OpenItem = { index: number; item: MessageItem | ReasoningItem | FunctionCallItem; text: string }

/**
 * Generation events → the Responses stream's semantic events, in OpenAI's order: `response.created` and
 * `response.in_progress`; per output item `output_item.added`, its content part, deltas, `….done`s and
 * `output_item.done`; one terminal `response.completed`, `response.incomplete` or `response.failed`. A
 * non-streamed response is the terminal event's `response`, so the two cannot drift apart.
 *
 * Output items follow the generation's order: reasoning, then the message text, then each function call.
 */
export class ResponseEventEncoder {
  private sequence = 0
  private readonly output: ResponseItem[] = []
  private open: OpenItem | null = null
  private status: ResponseStatus = 'in_progress'
  private usage: ResponseUsage | null = null
  private error: ResponseObject['error'] = null
  private completedAt: number | null = null

  constructor(
    private readonly meta: ResponseMeta,
    private readonly echo: ResponseEcho,
  ) {}

  /** The response as it stands (the final one after the terminal event). */
  get response(): ResponseObject {
    return {
      id: this.meta.id,
      object: 'response',
      created_at: this.meta.createdAt,
      status: this.status,
      completed_at: this.completedAt,
      error: this.error,
      incomplete_details: this.status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
      model: this.meta.model,
      output: structuredClone(this.output),
      usage: this.usage,
      ...this.echo,
    }
  }

  begin(): ResponseStreamEvent[] {
    return [this.event('response.created', { response: this.response }), this.event('response.in_progress', { response: this.response })]
  }

  push(event: GenerationEvent): ResponseStreamEvent[] {
    switch (event.type) {
      case 'reasoning':
        return [...this.ensureOpen('reasoning'), this.textDelta('response.reasoning_text.delta', event.text)]
      case 'text':
        return event.text ? [...this.ensureOpen('message'), this.textDelta('response.output_text.delta', event.text, { logprobs: [] })] : []
      case 'toolCallDelta': {
        const opened = event.name !== undefined ? [...this.close('completed'), ...this.openCall(event.id ?? newItemId('call'), event.name)] : []
        if (!event.argumentsDelta) return opened
        const open = this.open!
        open.text += event.argumentsDelta
        return [...opened, this.event('response.function_call_arguments.delta', { item_id: open.item.id, output_index: open.index, delta: event.argumentsDelta })]
      }
      case 'finished': {
        const incomplete = event.reason === 'length'
        // A response always has a message to read, even when the model ended at once.
        const opened = this.output.length === 0 && !this.open ? this.ensureOpen('message') : []
        const closed = this.close(incomplete ? 'incomplete' : 'completed')
        this.status = incomplete ? 'incomplete' : 'completed'
        this.usage = encodeResponseUsage(event.usage)
        this.completedAt = Math.floor(Date.now() / 1000)
        return [...opened, ...closed, this.event(`response.${this.status}`, { response: this.response })]
      }
      case 'started':
      case 'prompt':
        return []
    }
  }

  /** A failure after the stream started: an `error` event, then the terminal `response.failed`. */
  fail(error: ServeError): ResponseStreamEvent[] {
    this.open = null
    this.status = 'failed'
    this.error = { code: error.code ?? 'server_error', message: error.message }
    return [
      this.event('error', { code: error.code, message: error.message, param: error.param }),
      this.event('response.failed', { response: this.response }),
    ]
  }

  private event(type: string, fields: Record<string, unknown>): ResponseStreamEvent {
    return { type, sequence_number: this.sequence++, ...fields }
  }

  private textDelta(type: string, delta: string, extra: Record<string, unknown> = {}): ResponseStreamEvent {
    const open = this.open!
    open.text += delta
    return this.event(type, { item_id: open.item.id, output_index: open.index, content_index: 0, delta, ...extra })
  }

  private ensureOpen(kind: 'message' | 'reasoning'): ResponseStreamEvent[] {
    if (this.open?.item.type === kind) return []
    const closed = this.close('completed')
    const item: MessageItem | ReasoningItem =
      kind === 'message'
        ? { id: newItemId('msg'), type: 'message', status: 'in_progress', role: 'assistant', content: [] }
        : { id: newItemId('rs'), type: 'reasoning', summary: [], content: [] }
    const part = kind === 'message' ? { type: 'output_text', text: '', annotations: [], logprobs: [] } : { type: 'reasoning_text', text: '' }
    const open: OpenItem = { index: this.output.length, item, text: '' }
    this.open = open
    return [
      ...closed,
      this.event('response.output_item.added', { output_index: open.index, item: structuredClone(item) }),
      this.event('response.content_part.added', { item_id: item.id, output_index: open.index, content_index: 0, part }),
    ]
  }

  private openCall(callId: string, name: string): ResponseStreamEvent[] {
    const item: FunctionCallItem = { id: newItemId('fc'), type: 'function_call', status: 'in_progress', call_id: callId, name, arguments: '' }
    this.open = { index: this.output.length, item, text: '' }
    return [this.event('response.output_item.added', { output_index: this.open.index, item: structuredClone(item) })]
  }

  /** Ends the open item: its `….done` events, then `output_item.done` with the whole item. */
  private close(status: 'completed' | 'incomplete'): ResponseStreamEvent[] {
    const open = this.open
    if (!open) return []
    this.open = null
    const { item, index, text } = open
    const at = { item_id: item.id, output_index: index }
    const events: ResponseStreamEvent[] = []
    if (item.type === 'message') {
      const part = { type: 'output_text' as const, text, annotations: [], logprobs: [] }
      item.content = [part]
      item.status = status
      events.push(this.event('response.output_text.done', { ...at, content_index: 0, text, logprobs: [] }))
      events.push(this.event('response.content_part.done', { ...at, content_index: 0, part }))
    } else if (item.type === 'reasoning') {
      const part = { type: 'reasoning_text' as const, text }
      item.content = [part]
      events.push(this.event('response.reasoning_text.done', { ...at, content_index: 0, text }))
      events.push(this.event('response.content_part.done', { ...at, content_index: 0, part }))
    } else {
      item.arguments = text
      item.status = status
      events.push(this.event('response.function_call_arguments.done', { ...at, name: item.name, arguments: text }))
    }
    this.output.push(item)
    events.push(this.event('response.output_item.done', { output_index: index, item: structuredClone(item) }))
    return events
  }
}

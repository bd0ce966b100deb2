import { createHmac, randomBytes } from 'node:crypto'
import { EngineError } from '../../errors.js'
import type { FinishReason, GenerationEvent } from '../../generation/events.js'
import type { AnthropicUsage, Message, MessageContentBlock, StopReason } from '../schemas/messages.js'

/** One server-sent event of a Messages stream: its `event:` name and its JSON `data:`. */
export interface MessageStreamFrame {
  event: string
  data: Record<string, unknown>
}

/**
 * Thinking blocks carry a `signature` so clients hand them back untouched (Anthropic verifies its own). Ours
 * is an HMAC of the text under a key that lives as long as the process; it is not checked on the way in.
 */
const SIGNING_KEY = randomBytes(32)

export function newMessageId(): string {
  return `msg_${randomBytes(12).toString('hex')}`
}

type BlockKind = MessageContentBlock['type']

/**
 * Turns generation events into Anthropic's stream: `message_start`, then per content block (thinking, text,
 * tool_use, in the order the model wrote them) `content_block_start`, its deltas and `content_block_stop`,
 * then `message_delta` with the stop reason and usage, and `message_stop`. It also keeps the message those
 * events add up to (`message`), which is the non-streamed body: both come from one code path, so they agree.
 * One choice only (Messages has no `n`).
 */
export class MessageStreamEncoder {
  readonly message: Message
  private open: { kind: BlockKind; index: number } | null = null
  /** The open tool_use block's input JSON so far (its `input` is parsed from it when the block closes). */
  private inputJson = ''
  private done = false

  constructor(id: string, model: string) {
    this.message = {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 },
    }
  }

  /** Every event was pushed, up to `finished`. */
  get finished(): boolean {
    return this.done
  }

  push(event: GenerationEvent): MessageStreamFrame[] {
    switch (event.type) {
      case 'started':
        this.message.usage = usage(event.promptTokens, event.cachedTokens, 0)
        return [frame('message_start', { type: 'message_start', message: { ...this.message, content: [], usage: { ...this.message.usage } } })]
      case 'reasoning':
        return this.delta('thinking', { type: 'thinking_delta', thinking: event.text }, (b) => b.type === 'thinking' && (b.thinking += event.text))
      case 'text':
        if (!event.text) return []
        return this.delta('text', { type: 'text_delta', text: event.text }, (b) => b.type === 'text' && (b.text += event.text))
      case 'toolCallDelta': {
        // A call's first delta names it and opens its block, even right after another call.
        const frames = event.name !== undefined ? [...this.close(), ...this.start({ type: 'tool_use', id: toolUseId(event.id), name: event.name, input: {} })] : []
        if (!event.argumentsDelta) return frames
        this.inputJson += event.argumentsDelta
        return [...frames, frame('content_block_delta', { type: 'content_block_delta', index: this.open!.index, delta: { type: 'input_json_delta', partial_json: event.argumentsDelta } })]
      }
      case 'prompt':
        return []
      case 'finished': {
        const frames = this.close()
        const { reason, sequence } = stopReason(event.reason, event.stopReason)
        this.message.stop_reason = reason
        this.message.stop_sequence = sequence
        this.message.usage = usage(event.usage.promptTokens, event.usage.cachedTokens, event.usage.completionTokens)
        this.done = true
        return [
          ...frames,
          // Usage here is the whole message's: output so far and, as Anthropic now sends, the input counts again.
          frame('message_delta', { type: 'message_delta', delta: { stop_reason: reason, stop_sequence: sequence }, usage: { ...this.message.usage } }),
          frame('message_stop', { type: 'message_stop' }),
        ]
      }
    }
  }

  /** A delta for a block of `kind`, opening one (and closing the previous) when the kind changes. */
  private delta(kind: 'thinking' | 'text', delta: Record<string, unknown>, append: (block: MessageContentBlock) => unknown): MessageStreamFrame[] {
    const frames = this.open?.kind === kind ? [] : [...this.close(), ...this.start(kind === 'text' ? { type: 'text', text: '' } : { type: 'thinking', thinking: '', signature: '' })]
    const index = this.open!.index
    append(this.message.content[index]!)
    return [...frames, frame('content_block_delta', { type: 'content_block_delta', index, delta })]
  }

  private start(block: MessageContentBlock): MessageStreamFrame[] {
    const index = this.message.content.length
    this.message.content.push(block)
    this.open = { kind: block.type, index }
    return [frame('content_block_start', { type: 'content_block_start', index, content_block: { ...block } })]
  }

  private close(): MessageStreamFrame[] {
    if (!this.open) return []
    const { index } = this.open
    const block = this.message.content[index]!
    this.open = null
    const frames: MessageStreamFrame[] = []
    if (block.type === 'thinking') {
      block.signature = createHmac('sha256', SIGNING_KEY).update(block.thinking).digest('base64')
      frames.push(frame('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: block.signature } }))
    }
    if (block.type === 'tool_use') {
      block.input = parseInput(this.inputJson)
      this.inputJson = ''
    }
    frames.push(frame('content_block_stop', { type: 'content_block_stop', index }))
    return frames
  }
}

/** The non-streamed body: the same events, folded by the same encoder. */
export async function foldMessage(events: AsyncIterable<GenerationEvent>, encoder: MessageStreamEncoder): Promise<Message> {
  for await (const event of events) {
    encoder.push(event)
    if (encoder.finished) return encoder.message
  }
  throw new EngineError('Generation ended before the message finished.')
}

/**
 * Anthropic's usage: `input_tokens` counts only what was evaluated, so the total input is input + cache read +
 * cache creation, as Anthropic defines it. Caching here is automatic and free, so creation is always 0.
 */
function usage(promptTokens: number, cachedTokens: number, outputTokens: number): AnthropicUsage {
  return { input_tokens: promptTokens - cachedTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: cachedTokens, output_tokens: outputTokens }
}

function stopReason(reason: FinishReason, stop: string | number | null): { reason: StopReason; sequence: string | null } {
  switch (reason) {
    case 'tool_calls':
      return { reason: 'tool_use', sequence: null }
    case 'length':
      return { reason: 'max_tokens', sequence: null }
    case 'stop':
      // The engine names a stop string only when the request asked for it (turn terminators stay anonymous).
      return typeof stop === 'string' ? { reason: 'stop_sequence', sequence: stop } : { reason: 'end_turn', sequence: null }
  }
}

/** The engine's call ids (`call_…`) in Anthropic's form (`toolu_…`). */
function toolUseId(id: string | undefined): string {
  return `toolu_${(id ?? randomBytes(12).toString('hex')).replace(/^call_/, '')}`
}

/** Arguments cut short (max_tokens inside a call) do not parse; the block keeps an empty input and stop_reason says why. */
function parseInput(json: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(json || '{}')
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

function frame(event: string, data: Record<string, unknown>): MessageStreamFrame {
  return { event, data }
}

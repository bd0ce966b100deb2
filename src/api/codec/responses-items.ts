import { randomBytes } from 'node:crypto'
import { InvalidRequestError, NotFoundError } from '../../errors.js'
import type { ChatMessageWire } from '../schemas/chat.js'

/**
 * The Responses API's conversation items (input and output share one vocabulary), normalized: every
 * item has its `type` and an `id`, message content is a list of parts. Stored as they are here, listed by
 * `GET /v1/responses/{id}/input_items`, and turned into chat messages for the chat decoder.
 */

export type TextPart =
  | { type: 'input_text'; text: string }
  | { type: 'output_text'; text: string; annotations: unknown[]; logprobs?: unknown[] }
  | { type: 'refusal'; refusal: string }

export interface MessageItem {
  id: string
  type: 'message'
  role: 'user' | 'system' | 'developer' | 'assistant'
  status: 'completed' | 'incomplete' | 'in_progress'
  content: TextPart[]
}

export interface FunctionCallItem {
  id: string
  type: 'function_call'
  status: 'completed' | 'incomplete' | 'in_progress'
  call_id: string
  name: string
  arguments: string
}

export interface FunctionCallOutputItem {
  id: string
  type: 'function_call_output'
  status: 'completed'
  call_id: string
  output: string
}

export interface ReasoningItem {
  id: string
  type: 'reasoning'
  summary: Array<{ type: 'summary_text'; text: string }>
  content?: Array<{ type: 'reasoning_text'; text: string }>
  status?: 'completed' | 'incomplete' | 'in_progress'
}

export type ResponseItem = MessageItem | FunctionCallItem | FunctionCallOutputItem | ReasoningItem

/** OpenAI's id shapes: a type prefix and random hex. */
export function newItemId(prefix: 'resp' | 'msg' | 'fc' | 'fco' | 'rs' | 'call'): string {
  return `${prefix}_${randomBytes(24).toString('hex')}`
}

type Json = Record<string, unknown>
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Ids of the `item_reference`s in an input: the route fetches them from the store before decoding. */
export function referencedItemIds(input: unknown): string[] {
  if (!Array.isArray(input)) return []
  return input.flatMap((item) => (isObject(item) && item.type === 'item_reference' && typeof item.id === 'string' ? [item.id] : []))
}

/** `input` (text or items) → normalized items; `references` holds the stored items `item_reference`s name. */
export function decodeInputItems(input: string | unknown[] | undefined, references: ReadonlyMap<string, ResponseItem>): ResponseItem[] {
  if (input === undefined) return []
  if (typeof input === 'string') return [{ id: newItemId('msg'), type: 'message', role: 'user', status: 'completed', content: [{ type: 'input_text', text: input }] }]
  return input.map((item, i) => decodeItem(item, `input[${i}]`, references))
}

function decodeItem(item: unknown, param: string, references: ReadonlyMap<string, ResponseItem>): ResponseItem {
  if (!isObject(item)) throw new InvalidRequestError('An input item must be an object.', param)
  const type = item.type ?? (item.role !== undefined ? 'message' : undefined)
  const id = (prefix: Parameters<typeof newItemId>[0]) => (typeof item.id === 'string' && item.id ? item.id : newItemId(prefix))
  switch (type) {
    case 'message':
      return decodeMessage(item, param, id('msg'))
    case 'function_call':
      return {
        id: id('fc'),
        type: 'function_call',
        status: 'completed',
        call_id: requireString(item, 'call_id', param),
        name: requireString(item, 'name', param),
        arguments: requireString(item, 'arguments', param),
      }
    case 'function_call_output':
      return { id: id('fco'), type: 'function_call_output', status: 'completed', call_id: requireString(item, 'call_id', param), output: decodeOutput(item.output, `${param}.output`) }
    case 'reasoning':
      return decodeReasoning(item, param, id('rs'))
    case 'item_reference': {
      const found = typeof item.id === 'string' ? references.get(item.id) : undefined
      if (!found) throw new NotFoundError(`Item with id '${String(item.id)}' not found (items are kept only in stored responses).`, `${param}.id`, 'item_not_found')
      return found
    }
    default:
      throw new InvalidRequestError(
        `Input item type '${String(type)}' is not supported; send message, function_call, function_call_output, reasoning or item_reference items.`,
        `${param}.type`,
      )
  }
}

const ROLES = new Set(['user', 'system', 'developer', 'assistant'])

function decodeMessage(item: Json, param: string, id: string): MessageItem {
  if (typeof item.role !== 'string' || !ROLES.has(item.role)) {
    throw new InvalidRequestError(`A message's role must be user, system, developer or assistant; got ${JSON.stringify(item.role)}.`, `${param}.role`)
  }
  const role = item.role as MessageItem['role']
  const content = item.content
  let parts: TextPart[]
  if (typeof content === 'string') parts = [role === 'assistant' ? { type: 'output_text', text: content, annotations: [] } : { type: 'input_text', text: content }]
  else if (Array.isArray(content)) parts = content.map((part, j) => decodePart(part, `${param}.content[${j}]`))
  else throw new InvalidRequestError("A message needs 'content': text or a list of content parts.", `${param}.content`)
  const status = item.status === 'incomplete' ? 'incomplete' : 'completed'
  return { id, type: 'message', role, status, content: parts }
}

function decodePart(part: unknown, param: string): TextPart {
  if (!isObject(part)) throw new InvalidRequestError('A content part must be an object.', param)
  switch (part.type) {
    case 'input_text':
      return { type: 'input_text', text: requireString(part, 'text', param) }
    case 'output_text':
      return { type: 'output_text', text: requireString(part, 'text', param), annotations: Array.isArray(part.annotations) ? part.annotations : [] }
    case 'refusal':
      return { type: 'refusal', refusal: requireString(part, 'refusal', param) }
    case 'input_image':
    case 'input_file':
    case 'input_audio':
      throw new InvalidRequestError(`Content part type '${part.type}' is not supported: this server has no vision or file engine; send input_text parts only.`, `${param}.type`)
    default:
      throw new InvalidRequestError(`Content part type '${String(part.type)}' is not supported; send input_text parts.`, `${param}.type`)
  }
}

/** A call's output: text, or a list of input_text parts (joined). */
function decodeOutput(output: unknown, param: string): string {
  if (typeof output === 'string') return output
  if (!Array.isArray(output)) throw new InvalidRequestError("'output' must be text or a list of input_text parts.", param)
  return output.map((part, j) => {
    const decoded = decodePart(part, `${param}[${j}]`)
    return decoded.type === 'refusal' ? decoded.refusal : decoded.text
  }).join('\n')
}

function decodeReasoning(item: Json, param: string, id: string): ReasoningItem {
  const texts = (list: unknown, kind: string, key: string) =>
    (Array.isArray(list) ? list : []).map((part, j) => {
      if (!isObject(part) || typeof part.text !== 'string') throw new InvalidRequestError(`A ${kind} part needs 'text'.`, `${param}.${key}[${j}].text`)
      return part.text
    })
  const summary = texts(item.summary, 'summary', 'summary').map((text) => ({ type: 'summary_text' as const, text }))
  const content = texts(item.content, 'reasoning_text', 'content').map((text) => ({ type: 'reasoning_text' as const, text }))
  return { id, type: 'reasoning', summary, ...(content.length > 0 ? { content } : {}) }
}

function requireString(item: Json, key: string, param: string): string {
  const value = item[key]
  if (typeof value !== 'string') throw new InvalidRequestError(`'${key}' must be a string.`, `${param}.${key}`)
  return value
}

/**
 * Items → chat messages, as a chat client would have sent the same turns: an assistant message and the
 * calls after it are one assistant turn; a reasoning item is the thinking of the assistant turn that
 * follows it; call outputs are `tool` messages.
 */
export function itemsToChatMessages(items: readonly ResponseItem[]): ChatMessageWire[] {
  const messages: ChatMessageWire[] = []
  let reasoning: string | null = null
  // The assistant turn calls may still join: the last message, if it is an assistant turn opened since the last non-assistant item.
  let openTurn: ChatMessageWire | null = null
  const assistantTurn = (): ChatMessageWire => {
    if (openTurn) return openTurn
    const turn: ChatMessageWire = { role: 'assistant', content: null, ...(reasoning !== null ? { reasoning_content: reasoning } : {}) }
    reasoning = null
    messages.push(turn)
    return (openTurn = turn)
  }
  for (const item of items) {
    switch (item.type) {
      case 'reasoning':
        reasoning = (reasoning ?? '') + (item.content ?? item.summary).map((p) => p.text).join('\n')
        openTurn = null
        break
      case 'message': {
        const text = item.content.map((p) => (p.type === 'refusal' ? p.refusal : p.text)).join('\n')
        if (item.role === 'assistant') {
          openTurn = null
          const turn = assistantTurn()
          turn.content = text
        } else {
          messages.push({ role: item.role, content: text })
          openTurn = null
        }
        break
      }
      case 'function_call': {
        const turn = assistantTurn()
        turn.tool_calls = [...(turn.tool_calls ?? []), { id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments } }]
        break
      }
      case 'function_call_output':
        messages.push({ role: 'tool', tool_call_id: item.call_id, content: item.output })
        openTurn = null
        break
    }
  }
  return messages
}

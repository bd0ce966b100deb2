import { ContextLengthExceededError, InvalidRequestError } from '../../errors.js'
import type { GenerationRequest } from '../../generation/request.js'
import type { ChatCompletionRequest, ChatMessageWire } from '../schemas/chat.js'
import type { InputTokensRequest, ResponseCreateRequest } from '../schemas/responses.js'
import { decodeChatRequest } from './chat-request.js'
import { refuseUnsupported, type ModelLimits, type Refusal } from './generation-params.js'
import { decodeInputItems, itemsToChatMessages, type ResponseItem } from './responses-items.js'

/**
 * A Responses request is decoded as the chat request a chat client would send for the same turns, through
 * chat's decoder: messages, tools and their grammar, `text.format` (chat's `response_format` converter),
 * reasoning effort and every sampling field are read and refused exactly as on chat. Errors come back
 * under the Responses field names.
 */

/** The request fields a response object echoes (OpenAI's names and defaults). */
export interface ResponseEcho {
  background: false
  instructions: string | null
  max_output_tokens: number | null
  max_tool_calls: null
  metadata: Record<string, string>
  parallel_tool_calls: boolean
  previous_response_id: string | null
  prompt_cache_key: string | null
  reasoning: { effort: string | null; summary: string | null }
  safety_identifier: string | null
  service_tier: 'default'
  store: boolean
  temperature: number
  text: { format: Record<string, unknown>; verbosity: string }
  tool_choice: unknown
  tools: Array<Record<string, unknown>>
  top_logprobs: number
  top_p: number
  truncation: 'auto' | 'disabled'
  user: string | null
}

export interface DecodedResponseRequest {
  generation: GenerationRequest
  /** This request's input items, normalized (listed by input_items). */
  input: ResponseItem[]
  /** The conversation before the output: the previous response's context and output, then `input`. */
  context: ResponseItem[]
  echo: ResponseEcho
}

export interface ResponseDecodeContext {
  /** The resolved model id. */
  model: string
  limits: ModelLimits
  /** The previous response's conversation (its context and output); empty without previous_response_id. */
  prior: readonly ResponseItem[]
  /** Stored items that `item_reference`s name. */
  references: ReadonlyMap<string, ResponseItem>
  /** Whether this response will be stored (`store` and the server's store both on). */
  store: boolean
}

const REFUSED: ReadonlyArray<Refusal<ResponseCreateRequest>> = [
  ['background', (v) => v === false, "Background responses are not supported: a response runs while its request is open."],
  ['include', (v) => (v as unknown[]).length === 0, 'No includable output (encrypted reasoning, logprobs, search results) is produced.'],
  ['max_tool_calls', () => false, "'max_tool_calls' is not supported; 'parallel_tool_calls: false' allows one call per turn."],
  ['prompt', () => false, 'Stored prompt templates are not supported.'],
  ['conversation', () => false, 'The Conversations API is not supported; continue with previous_response_id.'],
  ['top_logprobs', (v) => v === 0, 'Logprobs are not served on /v1/responses; use /v1/chat/completions with logprobs.'],
]

export function decodeResponseRequest(body: ResponseCreateRequest | InputTokensRequest, ctx: ResponseDecodeContext): DecodedResponseRequest {
  refuseUnsupported(body as ResponseCreateRequest, REFUSED)
  const input = decodeInputItems(body.input, ctx.references)
  const context = [...ctx.prior, ...input]
  const messages: ChatMessageWire[] = [...(body.instructions ? [{ role: 'system' as const, content: body.instructions }] : []), ...itemsToChatMessages(context)]
  if (messages.length === 0) throw new InvalidRequestError("Send 'input' (text or items) or 'instructions'.", 'input')
  const tools = (body.tools ?? []).map(decodeTool)
  const format = decodeTextFormat(body.text?.format ?? null)
  const create = body as ResponseCreateRequest
  // Chat's own spelling of the same request; the Responses-only fields are dropped so chat's decoder never sees them.
  const { input: _input, instructions: _instructions, text: _text, reasoning, tools: _tools, tool_choice, ...shared } = create
  const chat = {
    ...shared,
    messages,
    max_completion_tokens: create.max_output_tokens ?? null,
    response_format: format.wire,
    tools: tools.map((t) => t.chat),
    tool_choice: decodeToolChoice(tool_choice),
    reasoning_effort: reasoning?.effort ?? null,
  } as unknown as ChatCompletionRequest
  const generation = renamingErrors(() => decodeChatRequest(chat, ctx.model, ctx.limits))
  return {
    generation,
    input,
    context,
    echo: {
      background: false,
      instructions: body.instructions ?? null,
      max_output_tokens: create.max_output_tokens ?? null,
      max_tool_calls: null,
      metadata: create.metadata ?? {},
      parallel_tool_calls: body.parallel_tool_calls ?? true,
      previous_response_id: body.previous_response_id ?? null,
      prompt_cache_key: create.prompt_cache_key ?? null,
      reasoning: { effort: reasoning?.effort ?? null, summary: null },
      safety_identifier: create.safety_identifier ?? null,
      service_tier: 'default',
      store: ctx.store,
      // As sent: top_p 0 is decoded as temperature 0 (greedy), but the client asked for top_p 0.
      temperature: create.temperature ?? generation.sampling.temperature,
      text: { format: format.echo, verbosity: body.text?.verbosity ?? 'medium' },
      tool_choice: tool_choice ?? 'auto',
      tools: tools.map((t) => t.echo),
      top_logprobs: 0,
      top_p: create.top_p ?? generation.sampling.topP,
      truncation: body.truncation ?? 'disabled',
      user: create.user ?? null,
    },
  }
}

/**
 * `truncation: "auto"` (OpenAI's rule), for a request the engine refused as too long: the fewest oldest
 * turns are dropped until `fits` says the prompt fits (the whole request is not asked about again). A turn
 * is the oldest non-system message and the call results right after it (they would be left without their
 * call); system messages stay. When nothing short of the last turn fits, the shortest request is returned
 * and the engine's 400 names its real length. Binary search: `fits` may tokenize.
 */
export async function truncateToFit(
  generation: GenerationRequest,
  fits: (candidate: GenerationRequest) => Promise<boolean>,
): Promise<GenerationRequest> {
  if (generation.input.kind !== 'chat') return generation
  const { messages } = generation.input
  const nonSystem = (from: number) => messages.findIndex((m, i) => i >= from && m.role !== 'system')
  // cuts[k]: after dropping k turns, the non-system messages kept are those at or after this index.
  const cuts = [nonSystem(0)]
  for (;;) {
    let next = nonSystem(cuts.at(-1)! + 1)
    while (next >= 0 && messages[next]!.role === 'tool') next = nonSystem(next + 1)
    if (next < 0) break
    cuts.push(next)
  }
  const input = generation.input
  const build = (k: number): GenerationRequest => ({ ...generation, input: { ...input, messages: messages.filter((m, i) => m.role === 'system' || i >= cuts[k]!) } })
  let low = 1
  let high = cuts.length - 1
  if (high < 1) return generation
  while (low < high) {
    const mid = (low + high) >> 1
    if (await fits(build(mid))) high = mid
    else low = mid + 1
  }
  return build(low)
}

/** A flat Responses function tool → chat's nested one, and the tool as the response echoes it. */
function decodeTool(tool: unknown, i: number): { chat: unknown; echo: Record<string, unknown> } {
  const param = `tools[${i}]`
  if (typeof tool !== 'object' || tool === null || Array.isArray(tool)) throw new InvalidRequestError('A tool must be an object.', param)
  const { type, name, description, parameters, strict } = tool as Record<string, unknown>
  if (type !== 'function') {
    throw new InvalidRequestError(
      `Tool type '${String(type)}' is not supported: built-in tools (web search, file search, computer use, code interpreter, image generation, MCP, …) are not served; send 'function' tools.`,
      `${param}.type`,
    )
  }
  return {
    chat: { type: 'function', function: { name, description, parameters, strict } },
    echo: { type: 'function', name, description: description ?? null, parameters: parameters ?? null, strict: strict ?? true },
  }
}

function decodeToolChoice(choice: unknown): unknown {
  if (choice == null || typeof choice === 'string') return choice ?? null
  const { type, name } = choice as Record<string, unknown>
  if (type === 'function' && typeof name === 'string') return { type: 'function', function: { name } }
  throw new InvalidRequestError(`tool_choice must be 'none', 'auto', 'required' or {"type": "function", "name": …}; got ${JSON.stringify(choice)}.`, 'tool_choice')
}

type TextFormat = NonNullable<NonNullable<ResponseCreateRequest['text']>['format']>

/** `text.format` → chat's `response_format` (so it goes through the same schema converter), and its echo. */
function decodeTextFormat(format: TextFormat | null): { wire: unknown; echo: Record<string, unknown> } {
  if (format == null || format.type === 'text') return { wire: null, echo: { type: 'text' } }
  if (format.type === 'json_object') return { wire: { type: 'json_object' }, echo: { type: 'json_object' } }
  if (format.type === 'json_schema') {
    if (format.schema == null) throw new InvalidRequestError("'text.format.schema' is required for json_schema.", 'text.format.schema')
    const { name = 'response', schema, strict = null, description } = format
    return {
      wire: { type: 'json_schema', json_schema: { name, schema, strict, description } },
      echo: { type: 'json_schema', name, schema, strict, ...(description !== undefined ? { description } : {}) },
    }
  }
  throw new InvalidRequestError(`text.format type '${format.type}' is not supported; use text, json_object or json_schema.`, 'text.format.type')
}

/** Chat's field names in an error → the Responses names for the same fields. */
const RENAMES: Array<[RegExp, string]> = [
  [/response_format\.json_schema\.schema/g, 'text.format.schema'],
  [/response_format/g, 'text.format'],
  [/max_completion_tokens/g, 'max_output_tokens'],
  [/reasoning_effort/g, 'reasoning.effort'],
  [/tools\[(\d+)\]\.function\./g, 'tools[$1].'],
  [/\bmessages(\[\d+\][\w.[\]]*)?/g, 'input'],
]

export function renameFields(text: string): string {
  return RENAMES.reduce((out, [pattern, name]) => out.replace(pattern, name), text)
}

function renamingErrors<T>(decode: () => T): T {
  try {
    return decode()
  } catch (error) {
    throw renamedError(error)
  }
}

/** An error from chat's decoder or the engine, naming the Responses fields instead of chat's. */
export function renamedError(error: unknown): unknown {
  if (error instanceof InvalidRequestError) return new InvalidRequestError(renameFields(error.message), error.param && renameFields(error.param), error.code)
  // The context error's message names no field; only its param does (`messages` → `input`).
  if (error instanceof ContextLengthExceededError && error.param) Object.defineProperty(error, 'param', { value: renameFields(error.param) })
  return error
}

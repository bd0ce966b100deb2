import { InvalidRequestError } from '../../errors.js'
import type { ChatMessage, ChatTemplateOptions, GenerationRequest } from '../../generation/request.js'
import type { ChatCompletionRequest, ChatMessageWire } from '../schemas/chat.js'
import type { ChatAnswerForm } from './chat-response.js'
import { decodeHistoryCalls, decodeTools, usesLegacyFunctions } from './chat-tools.js'
import { type ModelLimits, checkAgainstModel, decodeGenerationParams, refuseBesideConstrainedOutput, refuseUnsupported, type Refusal } from './generation-params.js'

/** Chat-only fields this server cannot honour yet (see refuseUnsupported). */
const REFUSED: ReadonlyArray<Refusal<ChatCompletionRequest>> = [
  ['modalities', (v) => (v as string[]).every((m) => m === 'text'), 'Only text output is supported.'],
  ['audio', () => false, 'Audio output is not supported.'],
  ['web_search_options', () => false, 'Web search is not supported.'],
]

/** Wire chat request → protocol-free GenerationRequest. `model` is the resolved model id. */
export function decodeChatRequest(body: ChatCompletionRequest, model: string, limits: ModelLimits): GenerationRequest {
  refuseUnsupported(body, REFUSED)
  const params = decodeGenerationParams(body, limits)
  if (body.top_logprobs != null && body.logprobs !== true) {
    throw new InvalidRequestError("'top_logprobs' needs 'logprobs: true'.", 'top_logprobs')
  }
  const tools = decodeTools(body)
  if (tools && tools.choice.kind !== 'none' && params.grammar) {
    // One grammar per request: calls and an output format cannot both be enforced.
    const param = params.grammar.param.split('.')[0]!
    throw new InvalidRequestError(`${param} cannot be combined with tool calls; drop it or send tool_choice 'none'.`, param)
  }
  if (body.chat_template != null && !limits.trustRequestChatTemplate) {
    throw new InvalidRequestError(
      "'chat_template' is refused: this server does not run templates sent by clients (start it with " +
        '--trust-request-chat-template when every client is trusted).',
      'chat_template',
    )
  }
  const template = decodeTemplateOptions(body)
  const request: GenerationRequest = {
    ...params,
    model,
    input: { kind: 'chat', messages: decodeMessages(body.messages), ...(template ? { template } : {}) },
    ...(tools ? { tools } : {}),
    ...(body.include_reasoning === false ? { reportReasoning: false } : {}),
    maxTokens: body.max_completion_tokens ?? params.maxTokens,
    logprobs: body.logprobs === true ? { top: body.top_logprobs ?? 0 } : null,
    promptLogprobs: null,
    echo: false,
  }
  checkAgainstModel(request, limits)
  refuseBesideConstrainedOutput(request)
  return request
}

/**
 * How the answer is shaped by the request: a legacy `functions` request is answered in kind, and with vLLM's
 * chat `echo` the last message's content, when it is an assistant turn (the one being continued), starts the
 * answer's content (after any other turn nothing is echoed).
 */
export function chatAnswerForm(body: ChatCompletionRequest, request: GenerationRequest): ChatAnswerForm {
  const last = request.input.kind === 'chat' ? request.input.messages.at(-1) : undefined
  return {
    legacyFunctions: usesLegacyFunctions(body),
    ...(body.echo === true && last?.role === 'assistant' ? { echo: last.content } : {}),
  }
}

/**
 * The chat-template controls (vLLM's names); null when all are at their defaults. `chat_template_kwargs` and `chat_template_args` (TensorRT-LLM's
 * name) are merged, the former winning. Whether the model can honour them is the renderer's to say: models
 * without a Jinja template refuse the ones that are not no-ops.
 */
function decodeTemplateOptions(body: ChatCompletionRequest): ChatTemplateOptions | null {
  const continueFinalMessage = body.continue_final_message ?? false
  if (continueFinalMessage && body.add_generation_prompt === true) {
    // vLLM's rule: a continued message has no new assistant header after it.
    throw new InvalidRequestError(
      "'continue_final_message' continues the last message, so it cannot also add a generation prompt; drop 'add_generation_prompt' or send false.",
      'continue_final_message',
    )
  }
  const kwargs = body.chat_template_kwargs ?? {}
  const args = body.chat_template_args ?? {}
  const defaults =
    body.chat_template == null &&
    Object.keys(kwargs).length + Object.keys(args).length === 0 &&
    body.reasoning_effort == null &&
    (body.add_generation_prompt ?? true) &&
    !continueFinalMessage &&
    body.documents == null
  if (defaults) return null
  return {
    source: body.chat_template ?? null,
    variables: { ...args, ...kwargs },
    variablesParam: Object.keys(kwargs).length > 0 || Object.keys(args).length === 0 ? 'chat_template_kwargs' : 'chat_template_args',
    reasoningEffort: body.reasoning_effort ?? null,
    addGenerationPrompt: continueFinalMessage ? false : (body.add_generation_prompt ?? true),
    continueFinalMessage,
    documents: body.documents ?? null,
  }
}

function decodeMessages(messages: readonly ChatMessageWire[]): ChatMessage[] {
  const out: ChatMessage[] = []
  messages.forEach((message, i) => out.push(decodeMessage(message, i, out)))
  return out
}

function decodeMessage(message: ChatMessageWire, index: number, earlier: readonly ChatMessage[]): ChatMessage {
  const param = `messages[${index}]`
  if (message.role === 'function') return decodeFunctionResult(message, param, earlier)
  const role = message.role === 'developer' ? 'system' : message.role
  if (role === 'tool' && !message.tool_call_id) {
    throw new InvalidRequestError(`A 'tool' message needs 'tool_call_id'.`, `${param}.tool_call_id`)
  }
  if (message.content == null && role !== 'assistant') {
    throw new InvalidRequestError(`A '${message.role}' message needs 'content'.`, `${param}.content`)
  }
  const toolCalls = role === 'assistant' ? decodeHistoryCalls(message.tool_calls, message.function_call, param) : []
  const content = decodeContent(message.content ?? '', param, message.role)
  // Only an assistant turn has thoughts; a `reasoning` field elsewhere is ignored, as before.
  const reasoning = role === 'assistant' ? decodeReasoning(message, content.thoughts, param) : null
  return {
    role,
    content: content.text,
    ...(message.name ? { name: message.name } : {}),
    ...(toolCalls.length > 0 ? { toolCalls } : {}),
    ...(role === 'tool' ? { toolCallId: message.tool_call_id! } : {}),
    ...(reasoning != null ? { reasoning } : {}),
  }
}

/**
 * The legacy `function` role (OpenAI's, from before calls had ids): a result named after its function. It is
 * the tool result of the latest earlier call of that name (with that call's id; '' when the call had none or
 * is not in the history), so templates render it as they render a `tool` message.
 */
function decodeFunctionResult(message: ChatMessageWire, param: string, earlier: readonly ChatMessage[]): ChatMessage {
  if (!message.name) throw new InvalidRequestError("A 'function' message needs 'name': the function whose result it is.", `${param}.name`)
  const call = earlier.flatMap((m) => m.toolCalls ?? []).filter((c) => c.name === message.name).at(-1)
  // OpenAI's type allows a null content here (a function that returned nothing).
  return { role: 'tool', content: decodeContent(message.content ?? '', param, 'function').text, name: message.name, toolCallId: call?.id ?? '' }
}

/** An assistant's earlier thinking: `reasoning_content` (or `reasoning`), or `thinking` content parts; not both. */
function decodeReasoning(message: ChatMessageWire, thoughts: readonly string[], param: string): string | null {
  const field = message.reasoning_content ?? message.reasoning ?? null
  if (thoughts.length === 0) return field
  if (field != null) {
    const name = message.reasoning_content != null ? 'reasoning_content' : 'reasoning'
    throw new InvalidRequestError(`Send the reasoning as '${name}' or as 'thinking' content parts, not both.`, `${param}.${name}`)
  }
  return thoughts.join('\n')
}

/**
 * Text parts (and bare strings, as vLLM takes them) are joined with '\n', vLLM's rule; an assistant's
 * `thinking` parts are its reasoning history; other part types are refused by name.
 */
function decodeContent(content: NonNullable<ChatMessageWire['content']>, param: string, role: ChatMessageWire['role']): { text: string; thoughts: string[] } {
  if (typeof content === 'string') return { text: content, thoughts: [] }
  const text: string[] = []
  const thoughts: string[] = []
  content.forEach((wire, i) => {
    const part = wire as string | Record<string, unknown>
    const partParam = `${param}.content[${i}]`
    if (typeof part === 'string') text.push(part)
    else if (part.type === 'text' || part.type === 'refusal') text.push(partString(part, part.type as string, partParam))
    else if (part.type === 'thinking' && role === 'assistant') {
      // An unclosed thought (vLLM's `closed: false`) would have to be continued, which rendering cannot do.
      if (part.closed === false) throw new InvalidRequestError("Only closed 'thinking' parts are supported; drop 'closed: false'.", `${partParam}.closed`)
      thoughts.push(partString(part, 'thinking', partParam))
    } else {
      const allowed = role === 'assistant' ? 'text, refusal and thinking parts' : 'text parts'
      throw new InvalidRequestError(`Content part type '${String(part.type)}' is not supported in a '${role}' message; send ${allowed} only.`, `${partParam}.type`)
    }
  })
  return { text: text.join('\n'), thoughts }
}

function partString(part: Record<string, unknown>, key: string, param: string): string {
  const value = part[key]
  if (typeof value !== 'string') throw new InvalidRequestError(`A '${String(part.type)}' content part needs a string '${key}'.`, `${param}.${key}`)
  return value
}

import { InvalidRequestError } from '../../errors.js'
import type { ChatMessage, ChatTemplateOptions, GenerationRequest } from '../../generation/request.js'
import type { ChatCompletionRequest, ChatMessageWire } from '../schemas/chat.js'
import { decodeHistoryCalls, decodeTools } from './chat-tools.js'
import { type ModelLimits, checkAgainstModel, decodeGenerationParams, refuseBesideConstrainedOutput, refuseUnsupported, type Refusal } from './generation-params.js'

/** Chat-only fields this server cannot honour yet (see refuseUnsupported). */
const REFUSED: ReadonlyArray<Refusal<ChatCompletionRequest>> = [
  ['echo', (v) => v === false, "'echo' is not supported for chat."],
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
    input: { kind: 'chat', messages: body.messages.map(decodeMessage), ...(template ? { template } : {}) },
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

function decodeMessage(message: ChatMessageWire, index: number): ChatMessage {
  const param = `messages[${index}]`
  const role = message.role === 'developer' ? 'system' : message.role
  if (role === 'tool' && !message.tool_call_id) {
    throw new InvalidRequestError(`A 'tool' message needs 'tool_call_id'.`, `${param}.tool_call_id`)
  }
  if (message.content == null && role !== 'assistant') {
    throw new InvalidRequestError(`A '${message.role}' message needs 'content'.`, `${param}.content`)
  }
  const toolCalls = role === 'assistant' ? decodeHistoryCalls(message.tool_calls, message.function_call, param) : []
  return {
    role,
    content: decodeContent(message.content ?? '', param),
    ...(message.name ? { name: message.name } : {}),
    ...(toolCalls.length > 0 ? { toolCalls } : {}),
    ...(role === 'tool' ? { toolCallId: message.tool_call_id! } : {}),
    ...(role === 'assistant' && (message.reasoning_content ?? message.reasoning) != null
      ? { reasoning: (message.reasoning_content ?? message.reasoning)! }
      : {}),
  }
}

/** Text parts are joined with '\n', vLLM's rule; other part types are refused by name. */
function decodeContent(content: string | Array<{ type: string; [key: string]: unknown }>, param: string): string {
  if (typeof content === 'string') return content
  return content
    .map((part, i) => {
      if (part.type === 'text' || part.type === 'refusal') {
        const text = part[part.type]
        if (typeof text !== 'string') {
          throw new InvalidRequestError(`A '${part.type}' content part needs a string '${part.type}'.`, `${param}.content[${i}].${part.type}`)
        }
        return text
      }
      throw new InvalidRequestError(
        `Content part type '${part.type}' is not supported by this model; send text parts only.`,
        `${param}.content[${i}].type`,
      )
    })
    .join('\n')
}

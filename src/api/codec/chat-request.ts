import { InvalidRequestError } from '../../errors.js'
import type { ChatMessage, GenerationRequest } from '../../engine/types.js'
import type { ChatCompletionRequest, ChatMessageWire } from '../schemas/chat.js'
import { decodeHistoryCalls, decodeTools } from './chat-tools.js'
import { type ModelLimits, decodeGenerationParams, refuseUnsupported, type Refusal } from './generation-params.js'

/** Chat-only fields this server cannot honour yet (see refuseUnsupported). */
const REFUSED: ReadonlyArray<Refusal<ChatCompletionRequest>> = [
  ['echo', (v) => v === false, "'echo' is not supported for chat."],
  ['add_generation_prompt', (v) => v === true, "'add_generation_prompt: false' is not supported yet."],
  ['continue_final_message', (v) => v === false, "'continue_final_message' is not supported yet."],
  ['chat_template', () => false, 'Per-request chat templates are not supported yet.'],
  ['chat_template_kwargs', (v) => Object.keys(v as object).length === 0, "'chat_template_kwargs' is not supported yet."],
  ['chat_template_args', (v) => Object.keys(v as object).length === 0, "'chat_template_args' is not supported yet."],
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
    // One grammar per request: calls and a response format cannot both be enforced.
    throw new InvalidRequestError("response_format cannot be combined with tool calls; drop it or send tool_choice 'none'.", 'response_format')
  }
  return {
    ...params,
    model,
    input: { kind: 'chat', messages: body.messages.map(decodeMessage) },
    ...(tools ? { tools } : {}),
    maxTokens: body.max_completion_tokens ?? params.maxTokens,
    logprobs: body.logprobs === true ? { top: body.top_logprobs ?? 0 } : null,
    promptLogprobs: null,
    echo: false,
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

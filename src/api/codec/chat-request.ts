import { randomInt } from 'node:crypto'
import { InvalidRequestError } from '../../errors.js'
import type { ChatMessage, GenerationRequest } from '../../engine/types.js'
import type { ChatCompletionRequest, ChatMessageWire } from '../schemas/chat.js'

/**
 * Parameters the schema knows but the engine does not honour yet. Each is accepted at its no-op value
 * and refused otherwise: a 200 that silently ignores what was asked is worse than a clear 400.
 */
const NOT_YET_SUPPORTED: Array<[keyof ChatCompletionRequest, (v: unknown) => boolean]> = [
  ['n', (v) => v === 1],
  ['logprobs', (v) => v === false],
  ['top_logprobs', (v) => v === 0],
  ['frequency_penalty', (v) => v === 0],
  ['presence_penalty', (v) => v === 0],
  ['repetition_penalty', (v) => v === 1],
  ['logit_bias', (v) => Object.keys(v as object).length === 0],
  ['top_k', (v) => v === 0 || v === -1],
  ['min_p', (v) => v === 0],
  ['response_format', (v) => (v as { type: string }).type === 'text'],
  ['tools', (v) => (v as unknown[]).length === 0],
  ['tool_choice', (v) => v === 'none' || v === 'auto'],
]

/** Wire chat request → protocol-free GenerationRequest. `model` is the resolved model id. */
export function decodeChatRequest(body: ChatCompletionRequest, model: string): GenerationRequest {
  for (const [param, isNoOp] of NOT_YET_SUPPORTED) {
    const value = body[param]
    if (value != null && !isNoOp(value)) {
      throw new InvalidRequestError(`'${param}' is not supported by this server yet; remove it or send its default.`, param)
    }
  }
  const stop = body.stop == null ? [] : typeof body.stop === 'string' ? [body.stop] : body.stop
  return {
    model,
    input: { kind: 'chat', messages: body.messages.map(decodeMessage) },
    sampling: {
      temperature: body.temperature ?? 1,
      topP: body.top_p ?? 1,
      seed: body.seed == null ? randomInt(0, 2 ** 32) : toUint32(body.seed),
    },
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? null,
    stop,
  }
}

function decodeMessage(message: ChatMessageWire, index: number): ChatMessage {
  const param = `messages[${index}]`
  if (message.tool_calls != null && message.tool_calls.length > 0) {
    throw new InvalidRequestError('Tool calls in the conversation are not supported by this server yet.', `${param}.tool_calls`)
  }
  const role = message.role === 'developer' ? 'system' : message.role
  if (role === 'tool' && !message.tool_call_id) {
    throw new InvalidRequestError(`A 'tool' message needs 'tool_call_id'.`, `${param}.tool_call_id`)
  }
  if (message.content == null && role !== 'assistant') {
    throw new InvalidRequestError(`A '${message.role}' message needs 'content'.`, `${param}.content`)
  }
  return { role, content: decodeContent(message.content ?? '', param), ...(message.name ? { name: message.name } : {}) }
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

/** OpenAI seeds are int64; the engine takes a uint32. The reduction is deterministic for any input. */
function toUint32(seed: number): number {
  return Number(BigInt.asUintN(32, BigInt(seed)))
}

import type { ChatMessage, ChatTemplateOptions } from '../../generation/request.js'
import { InvalidRequestError } from '../../errors.js'
import type { TokenizeRequest, TokenizeResponse } from '../schemas/tokenize.js'
import { decodeChatRequest } from './chat-request.js'
import type { ModelLimits } from './generation-params.js'

export type TokenizeInput = { kind: 'text'; text: string; addSpecial: boolean } | { kind: 'chat'; messages: ChatMessage[]; template?: ChatTemplateOptions }

export interface TokenizeJob {
  input: TokenizeInput
  returnTokenStrs: boolean
}

/** Wire request → what to tokenize. `model` is the resolved model id. */
export function decodeTokenizeRequest(body: TokenizeRequest, model: string, limits: Pick<ModelLimits, 'trustRequestChatTemplate'>): TokenizeJob {
  const { prompt, messages } = body
  const returnTokenStrs = body.return_token_strs ?? false
  if (prompt != null && messages != null) throw new InvalidRequestError("Send either 'prompt' or 'messages', not both.", 'messages')
  if (prompt != null) return { input: { kind: 'text', text: prompt, addSpecial: body.add_special_tokens ?? true }, returnTokenStrs }
  if (messages == null) throw new InvalidRequestError("Send 'prompt' (text) or 'messages' (a conversation) to tokenize.", 'prompt')
  if (body.add_special_tokens != null) {
    throw new InvalidRequestError(
      "'add_special_tokens' applies to 'prompt'; 'messages' are tokenized exactly as /v1/chat/completions evaluates them.",
      'add_special_tokens',
    )
  }
  // Through the chat decoder, so messages and template options are read and refused exactly as chat does.
  const { add_generation_prompt, continue_final_message, chat_template, chat_template_kwargs, tools } = body
  const { input } = decodeChatRequest(
    { messages, add_generation_prompt, continue_final_message, chat_template, chat_template_kwargs, tools },
    model,
    { maxChoices: 1, defaults: {}, trustRequestChatTemplate: limits.trustRequestChatTemplate },
  )
  return { input: input as Extract<TokenizeInput, { kind: 'chat' }>, returnTokenStrs }
}

export function encodeTokenizeResponse(tokens: number[], maxModelLen: number, tokenStrs: string[] | null): TokenizeResponse {
  return { count: tokens.length, max_model_len: maxModelLen, tokens, ...(tokenStrs ? { token_strs: tokenStrs } : {}) }
}

import { InvalidRequestError } from '../../errors.js'
import type { DetokenizeRequest, TokenizeInput, TokenizeRequest as Tokenize, TokenizeResult } from '../../generation/tokenizing.js'
import type { DetokenizeRequest as DetokenizeWire, TokenizeRequest, TokenizeResponse } from '../schemas/tokenize.js'
import { decodeChatRequest } from './chat-request.js'
import type { ModelDefaults } from '../../generation/backend.js'
import { checkTokenIds, type ModelLimits } from './generation-params.js'

/** Wire request → what to tokenize. `model` is the resolved model id. */
export function decodeTokenizeRequest(body: TokenizeRequest, model: string, limits: Pick<ModelLimits, 'trustRequestChatTemplate'>): Tokenize {
  const { prompt, messages } = body
  const withPieces = body.return_token_strs ?? false
  if (prompt != null && messages != null) throw new InvalidRequestError("Send either 'prompt' or 'messages', not both.", 'messages')
  if (prompt != null) return { model, input: { kind: 'text', text: prompt, addSpecial: body.add_special_tokens ?? true }, withPieces }
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
  return { model, input: input as Extract<TokenizeInput, { kind: 'chat' }>, withPieces }
}

export function encodeTokenizeResponse({ tokens, pieces, contextSize }: TokenizeResult): TokenizeResponse {
  return { count: tokens.length, max_model_len: contextSize, tokens, ...(pieces ? { token_strs: pieces } : {}) }
}

/** Wire request → ids to turn back into text; special tokens are left out unless `skip_special_tokens` is false. */
export function decodeDetokenizeRequest(body: DetokenizeWire, model: string, facts: Pick<ModelDefaults, 'vocabularySize'>): DetokenizeRequest {
  checkTokenIds(body.tokens, facts.vocabularySize, 'tokens')
  return { model, tokens: body.tokens, keepSpecial: !(body.skip_special_tokens ?? true) }
}

import { Type, type Static } from '@sinclair/typebox'
import { ChatCompletionRequestSchema } from './chat.js'
import { Nullable } from './common.js'

const chat = ChatCompletionRequestSchema.properties

/**
 * `POST /tokenize` in vLLM's shape: raw `prompt` text, or chat `messages` with the chat fields that change
 * how they render (read, and refused, exactly as `/v1/chat/completions` reads them).
 */
export const TokenizeRequestSchema = Type.Object(
  {
    model: chat.model,
    prompt: Nullable(Type.String({ description: 'Raw text; special-token text such as <|im_end|> becomes the special token.' })),
    add_special_tokens: Nullable(
      Type.Boolean({ description: "With 'prompt': add the model's BOS (and EOS) where its GGUF asks for them. Default true." }),
    ),
    messages: Nullable(chat.messages),
    add_generation_prompt: chat.add_generation_prompt,
    continue_final_message: chat.continue_final_message,
    chat_template: chat.chat_template,
    chat_template_kwargs: chat.chat_template_kwargs,
    tools: chat.tools,
    return_token_strs: Nullable(Type.Boolean({ description: "Also return each token's text as 'token_strs'." })),
  },
  { additionalProperties: true },
)

export type TokenizeRequest = Static<typeof TokenizeRequestSchema>

export const TokenizeResponseSchema = Type.Object({
  count: Type.Integer(),
  max_model_len: Type.Integer({ description: "The served context length (the models endpoint's context_length)." }),
  tokens: Type.Array(Type.Integer()),
  token_strs: Type.Optional(Type.Array(Type.String())),
})

export type TokenizeResponse = Static<typeof TokenizeResponseSchema>

/** `POST /detokenize` (vLLM). Ids are checked against the vocabulary by the engine, so every bad id gets one message. */
export const DetokenizeRequestSchema = Type.Object(
  {
    model: chat.model,
    tokens: Type.Array(Type.Integer()),
    skip_special_tokens: Nullable(Type.Boolean({ description: 'Leave special tokens out of the text, as chat does by default. Default true.' })),
  },
  { additionalProperties: true },
)

export type DetokenizeRequest = Static<typeof DetokenizeRequestSchema>

export const DetokenizeResponseSchema = Type.Object({ prompt: Type.String() })

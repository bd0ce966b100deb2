import { Type, type Static } from '@sinclair/typebox'
import { Nullable } from './common.js'

/** OpenAI's cap on inputs per request. */
export const MAX_EMBEDDING_INPUTS = 2048

// Emptiness is checked in the codec, so an empty input gets a message naming it, not a union's dump.
const TokenIdsSchema = Type.Array(Type.Integer())

/** `POST /v1/embeddings`, fields in OpenAI's documentation order; unknown keys are ignored. */
export const EmbeddingRequestSchema = Type.Object(
  {
    input: Type.Union(
      [
        Type.String(),
        Type.Array(Type.String(), { maxItems: MAX_EMBEDDING_INPUTS }),
        TokenIdsSchema,
        Type.Array(TokenIdsSchema, { maxItems: MAX_EMBEDDING_INPUTS }),
      ],
      { description: 'A string, strings, token ids, or lists of token ids; nothing empty. One vector per input.' },
    ),
    model: Nullable(Type.String({ description: 'Model id or alias; empty or omitted = the default model.' })),
    dimensions: Nullable(
      Type.Integer({ minimum: 1, description: 'Keep the first n components, re-normalised (Matryoshka-style); at most the model\'s size.' }),
    ),
    encoding_format: Nullable(
      Type.Union([Type.Literal('float'), Type.Literal('base64')], {
        description: 'float (default) or base64: little-endian float32 bytes.',
      }),
    ),
    user: Nullable(Type.String()),
  },
  { additionalProperties: true },
)

export type EmbeddingRequest = Static<typeof EmbeddingRequestSchema>

export const EmbeddingResponseSchema = Type.Object({
  object: Type.Literal('list'),
  data: Type.Array(
    Type.Object({
      object: Type.Literal('embedding'),
      index: Type.Integer(),
      embedding: Type.Union([Type.Array(Type.Number()), Type.String()]),
    }),
  ),
  model: Type.String(),
  usage: Type.Object({ prompt_tokens: Type.Integer(), total_tokens: Type.Integer() }),
})

export type EmbeddingResponse = Static<typeof EmbeddingResponseSchema>

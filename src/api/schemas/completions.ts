import { Type, type Static } from '@sinclair/typebox'
import { Nullable, UsageSchema } from './common.js'
import { FinishReasonSchema, GenerationParamsProperties, StopReasonSchema, responseHead } from './generation-params.js'

const TokenIds = Type.Array(Type.Integer({ minimum: 0 }), { minItems: 1 })

/** `POST /v1/completions`: a raw prompt, no chat template. Shares every sampling field with chat. */
export const CompletionRequestSchema = Type.Object(
  {
    ...GenerationParamsProperties,
    model: Nullable(Type.String({ description: 'Model id or alias; empty or omitted = the default model.' })),
    prompt: Type.Union(
      [Type.String(), Type.Array(Type.String(), { minItems: 1 }), TokenIds, Type.Array(TokenIds, { minItems: 1 })],
      { description: 'A string, strings (one choice each, in order), token ids, or lists of token ids.' },
    ),
    suffix: Nullable(Type.String({ description: 'Fill-in-the-middle: text after the completion (models with infill tokens).' })),
    echo: Nullable(Type.Boolean({ description: 'Prepend the prompt to each choice.' })),
    logprobs: Nullable(
      Type.Union([Type.Integer({ minimum: 0, maximum: 20 }), Type.Boolean()], {
        description: 'Legacy: how many alternatives per token (0–20); true = 0. With echo, prompt tokens too.',
      }),
    ),
  },
  { additionalProperties: true },
)

export type CompletionRequest = Static<typeof CompletionRequestSchema>

export const LegacyLogprobsSchema = Type.Object({
  tokens: Type.Array(Type.String()),
  token_logprobs: Type.Array(Type.Union([Type.Number(), Type.Null()])),
  top_logprobs: Type.Array(Type.Union([Type.Record(Type.String(), Type.Number()), Type.Null()])),
  text_offset: Type.Array(Type.Integer()),
})

export type LegacyLogprobs = Static<typeof LegacyLogprobsSchema>

const CompletionChoiceSchema = Type.Object({
  index: Type.Integer(),
  text: Type.String(),
  logprobs: Type.Union([LegacyLogprobsSchema, Type.Null()]),
  finish_reason: Type.Union([FinishReasonSchema, Type.Null()]),
  stop_reason: Type.Optional(StopReasonSchema),
})

export const CompletionSchema = Type.Object({
  ...responseHead('text_completion'),
  choices: Type.Array(CompletionChoiceSchema),
  usage: UsageSchema,
})

export type Completion = Static<typeof CompletionSchema>

export const CompletionChunkSchema = Type.Object({
  ...responseHead('text_completion'),
  choices: Type.Array(CompletionChoiceSchema),
  usage: Type.Optional(Type.Union([UsageSchema, Type.Null()])),
})

export type CompletionChunk = Static<typeof CompletionChunkSchema>

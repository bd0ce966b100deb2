import { Type, type TSchema } from '@sinclair/typebox'

/** Clients send `null` for "not set" on any optional field (W&B's schema declares them nullable). */
export const Nullable = <T extends TSchema>(schema: T, options: Record<string, unknown> = {}) =>
  Type.Optional(Type.Union([schema, Type.Null()], options))

export const ErrorBodySchema = Type.Object(
  {
    error: Type.Object({
      message: Type.String(),
      type: Type.String(),
      param: Type.Union([Type.String(), Type.Null()]),
      code: Type.Union([Type.String(), Type.Null()]),
    }),
  },
  { $id: 'ErrorBody', description: "OpenAI's error envelope, used for every error status." },
)

export const UsageSchema = Type.Object({
  prompt_tokens: Type.Integer(),
  completion_tokens: Type.Integer(),
  total_tokens: Type.Integer(),
  prompt_tokens_details: Type.Object({ cached_tokens: Type.Integer(), audio_tokens: Type.Integer({ description: 'Always 0.' }) }),
  completion_tokens_details: Type.Object({
    reasoning_tokens: Type.Integer(),
    audio_tokens: Type.Integer({ description: 'Always 0.' }),
    accepted_prediction_tokens: Type.Integer({ description: 'Always 0 (no predicted outputs).' }),
    rejected_prediction_tokens: Type.Integer({ description: 'Always 0 (no predicted outputs).' }),
  }),
})

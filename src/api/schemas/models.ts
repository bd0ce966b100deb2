import { Type, type Static } from '@sinclair/typebox'

/**
 * Where a model is in its life: its file downloading at start, loaded on first request, unloaded after its
 * ttl or to make room for another.
 */
export const ModelStatusSchema = Type.Union([
  Type.Literal('downloading'),
  Type.Literal('unloaded'),
  Type.Literal('loading'),
  Type.Literal('ready'),
  Type.Literal('unloading'),
])

export const ModelObjectSchema = Type.Object({
  id: Type.String(),
  object: Type.Literal('model'),
  created: Type.Integer(),
  owned_by: Type.String(),
  // Extras, harmless to OpenAI clients and useful to people.
  aliases: Type.Array(Type.String()),
  context_length: Type.Integer(),
  status: ModelStatusSchema,
  /** While downloading: how far, e.g. "downloading 41 %, 12 s left". */
  progress: Type.Optional(Type.String()),
})

export const ModelListSchema = Type.Object({
  object: Type.Literal('list'),
  data: Type.Array(ModelObjectSchema),
})

export const ModelParamsSchema = Type.Object({ '*': Type.String() })

export type ModelObject = Static<typeof ModelObjectSchema>

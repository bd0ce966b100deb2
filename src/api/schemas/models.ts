import { Type, type Static } from '@sinclair/typebox'

export const ModelObjectSchema = Type.Object({
  id: Type.String(),
  object: Type.Literal('model'),
  created: Type.Integer(),
  owned_by: Type.String(),
  // Extras, harmless to OpenAI clients and useful to people.
  aliases: Type.Array(Type.String()),
  context_length: Type.Integer(),
  status: Type.Union([Type.Literal('loading'), Type.Literal('ready')]),
})

export const ModelListSchema = Type.Object({
  object: Type.Literal('list'),
  data: Type.Array(ModelObjectSchema),
})

export const ModelParamsSchema = Type.Object({ '*': Type.String() })

export type ModelObject = Static<typeof ModelObjectSchema>

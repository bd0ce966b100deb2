import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorBodySchema } from '../../api/schemas/common.js'
import { ModelListSchema, ModelObjectSchema, ModelParamsSchema, type ModelObject } from '../../api/schemas/models.js'
import { ModelNotFoundError } from '../../errors.js'
import type { ModelDescription } from '../../generation/backend.js'

export const modelRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/models', { schema: { summary: 'List models', response: { 200: ModelListSchema } } }, async () => ({
    object: 'list' as const,
    data: app.models.describe().map(toModelObject),
  }))

  // Ids may contain '/' (hf:org/repo), so the id is the rest of the path.
  app.get(
    '/models/*',
    {
      schema: {
        summary: 'Retrieve a model',
        params: ModelParamsSchema,
        response: { 200: ModelObjectSchema, '4xx': ErrorBodySchema },
      },
    },
    async (request) => {
      const id = decodeURIComponent(request.params['*'])
      const found = app.models.find(id)
      if (!found) throw new ModelNotFoundError(id, app.models.describe().map((m) => m.id))
      return toModelObject(found)
    },
  )
}

function toModelObject(model: ModelDescription): ModelObject {
  return {
    id: model.id,
    object: 'model',
    created: model.created,
    owned_by: 'gguf-serve',
    aliases: model.aliases,
    context_length: model.contextSize,
    status: model.state,
    ...(model.progress === undefined ? {} : { progress: model.progress }),
  }
}

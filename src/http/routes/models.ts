import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorBodySchema } from '../../api/schemas/common.js'
import { ModelListSchema, ModelObjectSchema, ModelParamsSchema, type ModelObject } from '../../api/schemas/models.js'
import { ModelNotFoundError } from '../../errors.js'
import type { ModelRouter } from '../../scheduler/model-router.js'

export const modelRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/models', { schema: { summary: 'List models', response: { 200: ModelListSchema } } }, async () => ({
    object: 'list' as const,
    data: app.router.list().map(toModelObject),
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
      const found = app.router.find(id)
      if (!found) throw new ModelNotFoundError(id, app.router.list().map((m) => m.config.id))
      return toModelObject(found)
    },
  )
}

function toModelObject(model: ReturnType<ModelRouter['list']>[number]): ModelObject {
  const info = model.scheduler?.model.info
  return {
    id: model.config.id,
    object: 'model',
    created: info?.created ?? 0,
    owned_by: 'gguf-serve',
    aliases: model.config.aliases,
    context_length: info?.contextSize ?? model.config.contextSize,
    status: model.state,
    ...(model.progress === undefined ? {} : { progress: model.progress }),
  }
}

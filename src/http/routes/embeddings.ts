import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { decodeEmbeddingRequest, encodeEmbeddingResponse } from '../../api/codec/embeddings.js'
import { ErrorBodySchema } from '../../api/schemas/common.js'
import { EmbeddingRequestSchema, EmbeddingResponseSchema } from '../../api/schemas/embeddings.js'
import { abortSignalFor } from '../abort-signal.js'

export const embeddingRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/embeddings',
    {
      schema: {
        summary: 'Create embeddings: one unit-length vector per input',
        body: EmbeddingRequestSchema,
        response: { 200: EmbeddingResponseSchema, '4xx': ErrorBodySchema, '5xx': ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const body = request.body
      const model = await app.models.defaults(body.model)
      const job = decodeEmbeddingRequest(body, model.id, model)
      const result = await app.models.embed(job.request, { signal: abortSignalFor(reply) })
      request.generationLog.usage = { promptTokens: result.promptTokens, completionTokens: 0, cachedTokens: 0 }
      return encodeEmbeddingResponse(result, body.model || model.id, job.encoding)
    },
  )
}

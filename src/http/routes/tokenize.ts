import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { decodeDetokenizeRequest, decodeTokenizeRequest, encodeTokenizeResponse } from '../../api/codec/tokenize.js'
import { ErrorBodySchema } from '../../api/schemas/common.js'
import {
  DetokenizeRequestSchema,
  DetokenizeResponseSchema,
  TokenizeRequestSchema,
  TokenizeResponseSchema,
} from '../../api/schemas/tokenize.js'
import { abortSignalFor } from '../abort-signal.js'

/** vLLM's `/tokenize` and `/detokenize`: the ids the other endpoints evaluate, and their text. */
export const tokenizeRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/tokenize',
    {
      schema: {
        summary: 'Tokenize text, or chat messages as the chat endpoint renders them',
        body: TokenizeRequestSchema,
        response: { 200: TokenizeResponseSchema, '4xx': ErrorBodySchema, '5xx': ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const model = await app.models.defaults(request.body.model)
      const tokenize = decodeTokenizeRequest(request.body, model.id, model)
      return encodeTokenizeResponse(await app.models.tokenize(tokenize, { signal: abortSignalFor(reply) }))
    },
  )

  app.post(
    '/detokenize',
    {
      schema: {
        summary: 'Turn token ids back into text',
        body: DetokenizeRequestSchema,
        response: { 200: DetokenizeResponseSchema, '4xx': ErrorBodySchema, '5xx': ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const model = await app.models.defaults(request.body.model)
      return { prompt: await app.models.detokenize(decodeDetokenizeRequest(request.body, model.id, model), { signal: abortSignalFor(reply) }) }
    },
  )
}

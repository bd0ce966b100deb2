import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { newResponseMeta } from '../../api/codec/chat-response.js'
import { CompletionChunkEncoder, decodeCompletionRequest, foldCompletion } from '../../api/codec/completions.js'
import { decodeStreamUsage } from '../../api/codec/stream-usage.js'
import { ErrorBodySchema } from '../../api/schemas/common.js'
import { CompletionRequestSchema, CompletionSchema } from '../../api/schemas/completions.js'
import type { GenerationEvent } from '../../generation/events.js'
import { startWithPings, type StreamRouteOptions } from '../event-stream.js'
import { mergeStreams } from '../merge-streams.js'
import { flatMap, sendSse } from '../sse.js'
import { reportRelaxedSchema } from '../schema-relaxed.js'
import { submitFor } from '../submit.js'

export const completionRoutes: FastifyPluginAsyncTypebox<StreamRouteOptions> = async (app, { pingMs }) => {
  app.post(
    '/completions',
    {
      schema: {
        summary: 'Create a completion of a raw prompt (no chat template; streamed with `stream: true`)',
        body: CompletionRequestSchema,
        response: { 200: CompletionSchema, '4xx': ErrorBodySchema, '5xx': ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const body = request.body
      const model = await app.models.defaults(body.model)
      const decoded = decodeCompletionRequest(body, model.id, model)
      if (decoded.requests[0]) reportRelaxedSchema(reply, decoded.requests[0])
      const meta = newResponseMeta('cmpl', body.model || model.id, model.fingerprint)
      // One generation per prompt; if one cannot be queued, the ones already queued are withdrawn.
      const batch = new AbortController()
      const streams: Array<AsyncIterable<GenerationEvent>> = []
      try {
        for (const generation of decoded.requests) streams.push(submitFor(request, reply, generation, batch.signal))
      } catch (error) {
        batch.abort()
        throw error
      }
      const events = mergeStreams(streams)
      const usage = decodeStreamUsage(body)
      const encoder = new CompletionChunkEncoder(meta, decoded, usage.includeUsage, usage.continuousUsage)
      if (!body.stream) return foldCompletion(events, encoder, meta)
      return sendSse(reply, await startWithPings(flatMap(events, ([prompt, event]) => encoder.push(prompt, event)), pingMs))
    },
  )
}

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ChatChunkEncoder, encodeChatCompletion, newResponseMeta } from '../../api/codec/chat-response.js'
import { decodeChatRequest } from '../../api/codec/chat-request.js'
import { foldEvents } from '../../api/codec/fold-events.js'
import { ChatCompletionRequestSchema, ChatCompletionSchema } from '../../api/schemas/chat.js'
import { ErrorBodySchema } from '../../api/schemas/common.js'
import { reportRelaxedSchema } from '../schema-relaxed.js'
import { flatMap, sendSse, startIterable } from '../sse.js'
import { submitFor } from '../submit.js'

export const chatRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/chat/completions',
    {
      schema: {
        summary: 'Create a chat completion (streamed with `stream: true`)',
        body: ChatCompletionRequestSchema,
        response: { 200: ChatCompletionSchema, '4xx': ErrorBodySchema, '5xx': ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const body = request.body
      const model = await app.models.defaults(body.model)
      const generation = decodeChatRequest(body, model.id, model)
      reportRelaxedSchema(reply, generation)
      const meta = newResponseMeta('chatcmpl', body.model || model.id, model.fingerprint, (body.functions?.length ?? 0) > 0)
      const events = await startIterable(submitFor(request, reply, generation))
      if (!body.stream) return encodeChatCompletion(await foldEvents(events), meta)
      const encoder = new ChatChunkEncoder(meta, body.stream_options?.include_usage === true)
      return sendSse(reply, flatMap(events, (event) => encoder.push(event)))
    },
  )
}

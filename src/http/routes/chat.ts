import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ChatChunkEncoder, encodeChatCompletion, newResponseMeta } from '../../api/codec/chat-response.js'
import { chatAnswerForm, decodeChatRequest } from '../../api/codec/chat-request.js'
import { foldEvents } from '../../api/codec/fold-events.js'
import { decodeStreamUsage } from '../../api/codec/stream-usage.js'
import { ChatCompletionRequestSchema, ChatCompletionSchema } from '../../api/schemas/chat.js'
import { ErrorBodySchema } from '../../api/schemas/common.js'
import { startWithPings, type StreamRouteOptions } from '../event-stream.js'
import { reportRelaxedSchema } from '../schema-relaxed.js'
import { flatMap, sendSse } from '../sse.js'
import { submitFor } from '../submit.js'

export const chatRoutes: FastifyPluginAsyncTypebox<StreamRouteOptions> = async (app, { pingMs }) => {
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
      const meta = newResponseMeta('chatcmpl', body.model || model.id, model.fingerprint, chatAnswerForm(body, generation))
      // Queue full and prompt too long are thrown here, before any byte: they stay JSON errors.
      const events = submitFor(request, reply, generation)
      if (!body.stream) return encodeChatCompletion(await foldEvents(events), meta)
      const usage = decodeStreamUsage(body)
      const encoder = new ChatChunkEncoder(meta, usage.includeUsage, usage.continuousUsage)
      return sendSse(reply, await startWithPings(flatMap(events, (event) => encoder.push(event)), pingMs))
    },
  )
}

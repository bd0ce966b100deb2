import type { FastifyError } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { encodeAnthropicError } from '../../api/codec/messages-errors.js'
import { decodeMessagesPrompt, decodeMessagesRequest } from '../../api/codec/messages-request.js'
import { foldMessage, MessageStreamEncoder, newMessageId } from '../../api/codec/messages-response.js'
import {
  AnthropicErrorBodySchema,
  CountTokensRequestSchema,
  CountTokensResponseSchema,
  MessageSchema,
  MessagesRequestSchema,
} from '../../api/schemas/messages.js'
import { abortSignalFor } from '../abort-signal.js'
import { countChatPrompt } from '../count-prompt.js'
import { sendEventStream, startWithPings, type StreamRouteOptions } from '../event-stream.js'
import { toServeError } from '../plugins/errors.js'
import { reportRelaxedSchema } from '../schema-relaxed.js'
import { CLIENT_CLOSED_STATUS } from '../plugins/request-log.js'
import { flatMap } from '../sse.js'
import { submitFor } from '../submit.js'

const ERRORS = { '4xx': AnthropicErrorBodySchema, '5xx': AnthropicErrorBodySchema }

/**
 * Anthropic's Messages API over the same generation as chat. Encapsulated: its error handler answers every
 * error on these routes (validation, auth, rate limits included) in Anthropic's envelope, and its responses
 * carry `request-id`, the header Anthropic's SDKs read. `anthropic-version` and `anthropic-beta` are accepted
 * and not needed: there is one version of this API here.
 */
export const messagesRoutes: FastifyPluginAsyncTypebox<StreamRouteOptions> = async (app, { pingMs }) => {
  const bodyLimit = app.initialConfig.bodyLimit!
  app.addHook('onRequest', async (request, reply) => {
    reply.header('request-id', request.id)
  })
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const served = toServeError(error, request, bodyLimit)
    // Nobody is left to answer; the request's log line says `aborted`.
    if (!served) return reply.status(CLIENT_CLOSED_STATUS).send()
    const { status, body } = encodeAnthropicError(served, request.id)
    // Also here: auth and rate limits answer from hooks that run before this plugin's own.
    return reply.status(status).headers({ ...served.headers, 'request-id': request.id }).send(body)
  })

  app.post(
    '/messages',
    {
      schema: {
        summary: 'Create a message, Anthropic Messages API (streamed with `stream: true`)',
        body: MessagesRequestSchema,
        response: { 200: MessageSchema, ...ERRORS },
      },
    },
    async (request, reply) => {
      const body = request.body
      const model = await app.models.defaults(body.model)
      const generation = decodeMessagesRequest(body, model.id, model)
      reportRelaxedSchema(reply, generation)
      const encoder = new MessageStreamEncoder(newMessageId(), body.model || model.id)
      const events = submitFor(request, reply, generation)
      if (!body.stream) return foldMessage(events, encoder)
      const frames = await startWithPings(flatMap(events, (event) => encoder.push(event)), pingMs, () => ({ event: 'ping', data: { type: 'ping' } }))
      return sendEventStream(reply, frames, (error) => [{ event: 'error', data: encodeAnthropicError(error, request.id).body }])
    },
  )

  app.post(
    '/messages/count_tokens',
    {
      schema: {
        summary: 'Count the input tokens of a message request, as /v1/messages renders it',
        body: CountTokensRequestSchema,
        response: { 200: CountTokensResponseSchema, ...ERRORS },
      },
    },
    async (request, reply) => {
      const model = await app.models.defaults(request.body.model)
      const { input, tools } = decodeMessagesPrompt(request.body)
      return { input_tokens: (await countChatPrompt(app.models, model.id, input, tools, abortSignalFor(reply))).tokens }
    },
  )
}

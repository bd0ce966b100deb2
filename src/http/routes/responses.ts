import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import { decodeResponseRequest, renamedError, truncateToFit } from '../../api/codec/responses-request.js'
import { referencedItemIds, type ResponseItem } from '../../api/codec/responses-items.js'
import { newResponseMeta, ResponseEventEncoder, type ResponseObject, type ResponseStreamEvent } from '../../api/codec/responses-stream.js'
import { ErrorBodySchema } from '../../api/schemas/common.js'
import {
  InputTokensRequestSchema,
  InputTokensSchema,
  ResponseCreateRequestSchema,
  ResponseObjectSchema,
  type InputTokensRequest,
} from '../../api/schemas/responses.js'
import { ContextLengthExceededError, EngineError, NotFoundError } from '../../errors.js'
import type { GenerationEvent } from '../../generation/events.js'
import type { GenerationRequest } from '../../generation/request.js'
import { abortSignalFor } from '../abort-signal.js'
import { countChatPrompt } from '../count-prompt.js'
import { reportRelaxedSchema } from '../schema-relaxed.js'
import { sendEventStream, startWithPings, type StreamRouteOptions } from '../event-stream.js'
import { flatMap, PING, startIterable, type Ping } from '../sse.js'
import { submitFor } from '../submit.js'

/** OpenAI's Responses API: a second codec over the same generation as chat (decode, submit, encode). */
export const responseRoutes: FastifyPluginAsyncTypebox<StreamRouteOptions> = async (app, { pingMs }) => {
  app.post(
    '/responses',
    {
      schema: {
        summary: 'Create a response (OpenAI Responses API; streamed with `stream: true`)',
        body: ResponseCreateRequestSchema,
        response: { 200: ResponseObjectSchema, '4xx': ErrorBodySchema, '5xx': ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const body = request.body
      const model = await app.models.defaults(body.model)
      const store = body.store === false ? null : app.responseStore
      const decoded = decodeResponseRequest(body, { model: model.id, limits: model, store: store !== null, ...(await loadConversation(app, body)) })
      let generation = decoded.generation
      // Before anything is submitted: a queued stream's first ping sends the headers. Truncation keeps the grammar.
      reportRelaxedSchema(reply, generation)
      // A stream is started at its first event or first ping, whichever comes first (see startWithPings).
      const begin = () => start(() => submitFor(request, reply, generation), body.stream ? pingMs : null)
      let events: AsyncIterable<GenerationEvent | Ping>
      try {
        events = await begin()
      } catch (error) {
        // truncation "auto" cuts only a prompt the model refused as too long, so one that fits is rendered once.
        if (decoded.echo.truncation !== 'auto' || !(error instanceof ContextLengthExceededError)) throw error
        generation = await truncateToFit(generation, async (g) => {
          try {
            const counted = await countPrompt(app, g, abortSignalFor(reply))
            return counted.tokens < counted.contextSize
          } catch (refusal) {
            // A candidate whose length alone rules it out is refused before it is tokenized: it does not fit.
            if (refusal instanceof ContextLengthExceededError) return false
            throw refusal
          }
        })
        events = await begin()
      }
      const encoder = new ResponseEventEncoder(newResponseMeta(body.model || model.id), decoded.echo)
      const stream = encodeEvents(encoder, events, store && ((response) => store.put({ response, input: decoded.input, context: decoded.context })))
      if (!body.stream) return foldResponse(stream)
      return sendEventStream(reply, flatMap(stream, (event) => [event === PING ? PING : { event: event.type, data: event }]), (error) =>
        encoder.fail(error).map((event) => ({ event: event.type, data: event })),
      )
    },
  )

  app.post(
    '/responses/input_tokens',
    {
      schema: {
        summary: 'Count the input tokens a response request would evaluate',
        body: InputTokensRequestSchema,
        response: { 200: InputTokensSchema, '4xx': ErrorBodySchema, '5xx': ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const body = request.body
      const model = await app.models.defaults(body.model)
      const { generation } = decodeResponseRequest(body, { model: model.id, limits: model, store: false, ...(await loadConversation(app, body)) })
      return { object: 'response.input_tokens' as const, input_tokens: (await countPrompt(app, generation, abortSignalFor(reply))).tokens }
    },
  )
}

/** A response request's prompt length as the engine renders it, and the model's context. */
function countPrompt(app: FastifyInstance, generation: GenerationRequest, signal: AbortSignal): Promise<{ tokens: number; contextSize: number }> {
  if (generation.input.kind !== 'chat') throw new EngineError('A response request decoded to a non-chat input.')
  return countChatPrompt(app.models, generation.model, generation.input, generation.tools ?? null, signal)
}

/** The stored turns a request continues: `previous_response_id`'s conversation and the items `item_reference`s name. */
async function loadConversation(app: FastifyInstance, body: InputTokensRequest) {
  const store = app.responseStore
  const references = new Map<string, ResponseItem>()
  let prior: ResponseItem[] = []
  const id = body.previous_response_id
  if (id != null) {
    const record = store && (await store.get(id))
    if (!record) {
      const why = store ? 'not found' : 'not found: this server stores no responses (--no-store)'
      throw new NotFoundError(`Previous response with id '${id}' ${why}.`, 'previous_response_id', 'previous_response_not_found')
    }
    prior = [...record.context, ...record.response.output]
  }
  for (const itemId of referencedItemIds(body.input)) {
    const item = store && (await store.getItem(itemId))
    if (item) references.set(itemId, item)
  }
  return { prior, references }
}

/**
 * Waits for the first event (earlier failures stay HTTP errors), naming the Responses fields in errors; a stream
 * (`pingMs` set) waits at most that long, then gets its headers and pings while it is queued.
 */
async function start(submit: () => AsyncIterable<GenerationEvent>, pingMs: number | null): Promise<AsyncIterable<GenerationEvent | Ping>> {
  try {
    return await (pingMs === null ? startIterable(submit()) : startWithPings(submit(), pingMs))
  } catch (error) {
    throw renamedError(error)
  }
}

/**
 * Encodes the events; the response is stored before its terminal event goes out, so a client can read it back at
 * once. Pings pass through beside the events (comments: no sequence_number).
 */
async function* encodeEvents(
  encoder: ResponseEventEncoder,
  events: AsyncIterable<GenerationEvent | Ping>,
  store: ((response: ResponseObject) => Promise<void>) | null,
): AsyncGenerator<ResponseStreamEvent | Ping> {
  yield* encoder.begin()
  for await (const event of events) {
    if (event === PING) {
      yield PING
      continue
    }
    for (const out of encoder.push(event)) {
      if (store && (out.type === 'response.completed' || out.type === 'response.incomplete')) await store(encoder.response)
      yield out
    }
  }
}

/** The non-streamed body: the stream's terminal response. */
async function foldResponse(stream: AsyncIterable<ResponseStreamEvent | Ping>): Promise<ResponseObject> {
  let last: ResponseStreamEvent | null = null
  for await (const event of stream) if (event !== PING) last = event
  if (last?.type !== 'response.completed' && last?.type !== 'response.incomplete') throw new EngineError('Generation ended before the response was complete.')
  return last.response as ResponseObject
}

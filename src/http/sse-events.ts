import { Readable } from 'node:stream'
import type { FastifyReply } from 'fastify'
import { EngineError, GENERATION_FAILED, ServeError } from '../errors.js'

/**
 * Sends typed events as server-sent events with an `event:` line each (`event: <type>\ndata: <json>\n\n`),
 * the framing of OpenAI's Responses stream, which has no `[DONE]`. As with `sendSse`, the caller awaits the
 * first generation event first, so earlier errors stay JSON errors with their status; an error after the
 * headers went out becomes the events `onError` returns, then the stream closes. A client that
 * disconnects destroys the stream, which returns the event iterator and so cancels the generation.
 */
export function sendEventStream<E extends { type: string }>(
  reply: FastifyReply,
  events: AsyncIterable<E>,
  onError: (error: ServeError) => E[],
): FastifyReply {
  reply
    .header('content-type', 'text/event-stream; charset=utf-8')
    .header('cache-control', 'no-cache')
    .header('x-accel-buffering', 'no')
  return reply.send(Readable.from(frame(events, reply, onError), { objectMode: false }))
}

async function* frame<E extends { type: string }>(events: AsyncIterable<E>, reply: FastifyReply, onError: (error: ServeError) => E[]): AsyncGenerator<string> {
  try {
    for await (const event of events) yield `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`
  } catch (error) {
    const served = error instanceof ServeError ? error : new EngineError(GENERATION_FAILED, error)
    reply.request.log.error({ err: error }, 'error after the stream started')
    for (const event of onError(served)) yield `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`
  }
}

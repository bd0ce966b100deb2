import { Readable } from 'node:stream'
import type { FastifyReply } from 'fastify'
import { EngineError, GENERATION_FAILED, ServeError } from '../errors.js'
import { errorBody } from './error-body.js'

/**
 * A keep-alive in a stream given to sendSse or sendEventStream: written as the SSE comment `: ping`, which
 * every SSE parser skips (OpenAI's SDKs included), so it adds no event and moves no Responses
 * `sequence_number`. withHeartbeat puts it in while a request is queued or its prompt is read.
 */
export const PING = Symbol('ping')
export type Ping = typeof PING
export const PING_COMMENT = ': ping\n\n'

/**
 * Sends chunks as server-sent events in OpenAI's framing: `data: <json>\n\n` each, then
 * `data: [DONE]\n\n`; a PING is a comment line. The caller awaits the first chunk before calling this, so errors found before
 * generation starts (queue full, prompt too long) still leave as a normal JSON error with its status.
 * An error after the headers went out is one `data: {"error": …}` event, then the stream closes; the
 * SDKs raise it as an APIError. A client that disconnects destroys the stream, which returns the
 * chunk iterator and so cancels the generation.
 */
export function sendSse(reply: FastifyReply, chunks: AsyncIterable<unknown>): FastifyReply {
  return sendStream(reply, frame(chunks, reply))
}

/** Sends already framed server-sent events as the response body (chat's data frames, named events). */
export function sendStream(reply: FastifyReply, body: AsyncIterable<string>): FastifyReply {
  reply
    .header('content-type', 'text/event-stream; charset=utf-8')
    .header('cache-control', 'no-cache')
    .header('x-accel-buffering', 'no')
  return reply.send(Readable.from(body, { objectMode: false }))
}

/** The error a stream that already started ends with, logged by its cause. */
export function streamFailure(reply: FastifyReply, error: unknown): ServeError {
  const served = error instanceof ServeError ? error : new EngineError(GENERATION_FAILED, error)
  // A client's error (a grammar that matches nothing) is no server error, though found mid-stream.
  if (served.status >= 500) reply.request.log.error({ err: error }, 'error after the stream started')
  else reply.request.log.info({ code: served.code, message: served.message }, 'error after the stream started')
  return served
}

async function* frame(chunks: AsyncIterable<unknown>, reply: FastifyReply): AsyncGenerator<string> {
  try {
    for await (const chunk of chunks) yield chunk === PING ? PING_COMMENT : `data: ${JSON.stringify(chunk)}\n\n`
    yield 'data: [DONE]\n\n'
  } catch (error) {
    yield `data: ${JSON.stringify(errorBody(streamFailure(reply, error)))}\n\n`
  }
}

/**
 * Starts an async iterable and waits for its first item, so a failure before any output is thrown
 * here (and becomes an HTTP error) rather than inside a stream whose headers were already sent.
 */
export async function startIterable<T>(source: AsyncIterable<T>): Promise<AsyncIterable<T>> {
  const iterator = source[Symbol.asyncIterator]()
  const first = await iterator.next()
  return {
    [Symbol.asyncIterator]: () => {
      let pending: IteratorResult<T> | null = first
      return {
        next: async () => {
          if (pending) {
            const result = pending
            pending = null
            return result
          }
          return iterator.next()
        },
        return: async () => (await iterator.return?.()) ?? { value: undefined, done: true },
      }
    },
  }
}

/** Maps each item of a stream to zero or more output items (events → wire chunks). */
export async function* flatMap<T, U>(source: AsyncIterable<T>, map: (item: T) => U[]): AsyncGenerator<U> {
  for await (const item of source) yield* map(item)
}

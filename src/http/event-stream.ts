import type { FastifyReply } from 'fastify'
import type { ServeError } from '../errors.js'
import { PING, PING_COMMENT, sendStream, startIterable, streamFailure, type Ping } from './sse.js'

/** Options of the routes that stream. */
export interface StreamRouteOptions {
  /** A keep-alive after this long without output (queued, or a long prompt being read): server.streamPingMs. */
  pingMs: number
}

/** One named server-sent event. */
export interface EventFrame {
  event: string
  data: unknown
}

/**
 * Sends frames as named server-sent events, `event: <name>\ndata: <json>\n\n` each (Anthropic's framing; no
 * `[DONE]`; a PING is a comment line). As with sendSse, the caller awaits the first frame before calling this, so errors found before any
 * output leave as a JSON error with their status; an error after the headers went out becomes the frame
 * `errorFrames` makes (Anthropic's one `error` event; OpenAI Responses' `error` and `response.failed`), and the stream ends. A client that disconnects destroys the stream, which returns the
 * frame iterator and so cancels the generation.
 */
export function sendEventStream(reply: FastifyReply, frames: AsyncIterable<EventFrame | Ping>, errorFrames: (error: ServeError) => EventFrame[]): FastifyReply {
  return sendStream(reply, write(frames, reply, errorFrames))
}

async function* write(frames: AsyncIterable<EventFrame | Ping>, reply: FastifyReply, errorFrames: (error: ServeError) => EventFrame[]): AsyncGenerator<string> {
  try {
    for await (const frame of frames) yield frame === PING ? PING_COMMENT : serialize(frame)
  } catch (error) {
    for (const frame of errorFrames(streamFailure(reply, error))) yield serialize(frame)
  }
}

function serialize({ event, data }: EventFrame): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
}

const TICK = Symbol('tick')

/**
 * The source's items, with `ping()` put in whenever it stays silent for `everyMs`: while a request waits in the
 * queue or its prompt is evaluated, clients and proxies see a live connection. Awaiting the first item of the
 * result therefore waits at most `everyMs`: a request that starts sooner (or fails sooner) keeps the plain
 * HTTP status path; one still queued gets its headers and pings.
 */
export async function* withHeartbeat<T>(source: AsyncIterable<T>, everyMs: number, ping: () => T): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]()
  let done = false
  try {
    let next = iterator.next()
    for (;;) {
      let timer: NodeJS.Timeout | undefined
      const tick = new Promise<typeof TICK>((resolve) => {
        timer = setTimeout(() => resolve(TICK), everyMs)
      })
      const result = await Promise.race([next, tick]).finally(() => clearTimeout(timer))
      if (result === TICK) {
        yield ping()
        continue
      }
      if (result.done) {
        done = true
        return
      }
      yield result.value
      next = iterator.next()
    }
  } finally {
    if (!done) await iterator.return?.()
  }
}

/**
 * A stream, started: its first item, or a ping after `everyMs` of waiting, is awaited here, so a failure before
 * then (queue full, prompt too long) is thrown as a plain HTTP error, while a request still queued gets its
 * headers and a ping every `everyMs`: by default PING, the `: ping` comment of OpenAI-style streams (api-surface
 * §6.8); Anthropic's streams send their own `ping` event.
 */
export function startWithPings<T>(source: AsyncIterable<T>, everyMs: number): Promise<AsyncIterable<T | Ping>>
export function startWithPings<T, P>(source: AsyncIterable<T>, everyMs: number, ping: () => P): Promise<AsyncIterable<T | P>>
export function startWithPings<T, P>(source: AsyncIterable<T>, everyMs: number, ping: () => P | Ping = () => PING): Promise<AsyncIterable<T | P | Ping>> {
  return startIterable(withHeartbeat<T | P | Ping>(source, everyMs, ping))
}

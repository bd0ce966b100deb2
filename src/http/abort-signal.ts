import type { FastifyReply } from 'fastify'

/** One per reply: a batch of prompts (up to maxFanOut) shares it instead of adding a listener each. */
const signals = new WeakMap<FastifyReply, AbortSignal>()

/** Fires when the client goes away before the reply has been written in full. */
export function abortSignalFor(reply: FastifyReply): AbortSignal {
  let signal = signals.get(reply)
  if (signal) return signal
  const abort = new AbortController()
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) abort.abort()
  })
  signal = abort.signal
  signals.set(reply, signal)
  return signal
}

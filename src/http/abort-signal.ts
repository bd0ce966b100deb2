import type { FastifyReply } from 'fastify'

/** Fires when the client goes away before the reply has been written in full. */
export function abortSignalFor(reply: FastifyReply): AbortSignal {
  const abort = new AbortController()
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) abort.abort()
  })
  return abort.signal
}

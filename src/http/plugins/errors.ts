import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { RouteNotFoundError, ServeError } from '../../errors.js'
import { errorBody, fromFastifyError } from '../error-body.js'
import { CLIENT_CLOSED_STATUS } from './request-log.js'

/**
 * The one place errors become replies: typed ServeErrors keep their status, Fastify's own errors are
 * translated, anything else is a 500 `server_error` naming the request id, logged at error with its stack
 * (the message and stack are not sent). Only an error caused by the client leaving is not a server error,
 * and that is known from the request's own events (`request.clientAborted`), not from socket flags.
 */
export const errorsPlugin = fp(
  async (app: FastifyInstance, options: { bodyLimit: number }) => {
    app.setErrorHandler((error: FastifyError, request, reply) => {
      const served = toServeError(error, request, options.bodyLimit)
      // Nobody is left to answer; the request's log line says `aborted`.
      if (!served) return reply.status(CLIENT_CLOSED_STATUS).send()
      return reply.status(served.status).headers(served.headers).send(errorBody(served))
    })
    app.setNotFoundHandler((request, reply) => {
      const error = new RouteNotFoundError(request.method, request.url)
      return reply.status(404).send(errorBody(error))
    })
  },
  { name: 'errors' },
)

/**
 * Any error as the ServeError a client is told about, logged where the server is at fault; null when the
 * client left before the response started (recognised from the request's own events, not socket flags).
 * Shared with the route plugins that answer in another protocol's envelope (Anthropic's), so every route
 * decides alike.
 */
export function toServeError(error: FastifyError, request: FastifyRequest, bodyLimit: number): ServeError | null {
  const served = error instanceof ServeError ? error : fromFastifyError(error, bodyLimit)
  if (request.clientAborted && (served !== null || isConnectionReset(error))) {
    request.log.info({ code: served?.code ?? error.code, message: error.message }, 'the client left before the response started')
    return null
  }
  if (!served) {
    request.log.error({ err: error }, 'unhandled error')
    return new UnhandledError(request.id)
  }
  if (served.status === 500) request.log.error({ err: served.cause ?? served }, served.message)
  return served
}

/** An error nothing typed: its message is logged, never sent; the request id finds it in the log. */
class UnhandledError extends ServeError {
  readonly status = 500
  readonly type = 'server_error'
  constructor(requestId: string) {
    super(`The server had an error while processing your request (request id ${requestId}); the server log has the details.`)
  }
}

/** The error a request stream raises when its connection is reset while the body is read. */
function isConnectionReset(error: FastifyError): boolean {
  return error.code === 'ECONNRESET' || error.code === 'ERR_STREAM_PREMATURE_CLOSE'
}

import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { InvalidRequestError, RouteNotFoundError, ServeError } from '../../errors.js'
import { errorBody, fromFastifyError } from '../error-body.js'

/**
 * The one place errors become replies: typed ServeErrors keep their status, Fastify's own errors are
 * translated, anything else is a 500 whose message is logged but not sent (no stack traces or paths).
 */
export const errorsPlugin = fp(
  async (app: FastifyInstance, options: { bodyLimit: number }) => {
    app.setErrorHandler((error: FastifyError, request, reply) => {
      const served = toServeError(error, request, options.bodyLimit)
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
 * Any error as the ServeError a client is told about, logged where the server is at fault. Shared with the
 * route plugins that answer in another protocol's envelope (Anthropic's), so every route decides alike.
 */
export function toServeError(error: FastifyError, request: FastifyRequest, bodyLimit: number): ServeError {
  const served = error instanceof ServeError ? error : fromFastifyError(error, bodyLimit)
  if (!served && request.raw.destroyed) {
    // The client went away while its body was being read: nobody to answer, nothing wrong here.
    request.log.info({ code: error.code }, 'the client closed the connection before its request was read')
    return new InvalidRequestError('The request body was not received in full.', null)
  }
  if (!served) {
    request.log.error({ err: error }, 'unhandled error')
    return new UnhandledError()
  }
  if (served.status === 500) request.log.error({ err: served.cause ?? served }, served.message)
  return served
}

/** An error nothing typed: its message is logged, never sent. */
class UnhandledError extends ServeError {
  readonly status = 500
  readonly type = 'server_error'
  constructor() {
    super('The server had an error while processing your request.')
  }
}

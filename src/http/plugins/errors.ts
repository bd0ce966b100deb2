import type { FastifyError, FastifyInstance } from 'fastify'
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
      const served = error instanceof ServeError ? error : fromFastifyError(error, options.bodyLimit)
      if (request.clientAborted && (served !== null || isConnectionReset(error))) {
        // Nobody is left to answer; the request's log line says `aborted`.
        request.log.info({ code: served?.code ?? error.code, message: error.message }, 'the client left before the response started')
        return reply.status(CLIENT_CLOSED_STATUS).send()
      }
      if (!served) {
        request.log.error({ err: error }, 'unhandled error')
        return reply.status(500).send({
          error: {
            message: `The server had an error while processing your request (request id ${request.id}); the server log has the details.`,
            type: 'server_error',
            param: null,
            code: null,
          },
        })
      }
      if (served.status === 500) request.log.error({ err: served.cause ?? served }, served.message)
      return reply.status(served.status).headers(served.headers).send(errorBody(served))
    })
    app.setNotFoundHandler((request, reply) => {
      const error = new RouteNotFoundError(request.method, request.url)
      return reply.status(404).send(errorBody(error))
    })
  },
  { name: 'errors' },
)

/** The error a request stream raises when its connection is reset while the body is read. */
function isConnectionReset(error: FastifyError): boolean {
  return error.code === 'ECONNRESET' || error.code === 'ERR_STREAM_PREMATURE_CLOSE'
}

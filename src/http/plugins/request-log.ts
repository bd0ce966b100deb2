import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { ServeMetrics } from '../../observability/metrics.js'

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The client went away before the response was complete: its request stream was aborted or the
     * connection closed before the response finished. Set from the request's own events, never guessed
     * from socket flags (`req.destroyed` is also true once a POST body has simply been read).
     */
    clientAborted: boolean
  }
}

/** The status logged and counted for a request whose client left first (nginx's "client closed request"). */
export const CLIENT_CLOSED_STATUS = 499

/**
 * One log line and one `http_requests_total` sample per request, whether its response finished (outcome
 * `completed`, the status sent) or the client left first (outcome `aborted`, status 499). Fastify's
 * onResponse only runs for responses that finished, so the second kind is caught on the socket's close.
 */
export const requestLogPlugin = fp(
  async (app: FastifyInstance, { metrics }: { metrics: ServeMetrics }) => {
    const logged = new WeakSet<FastifyRequest>()
    const record = (request: FastifyRequest, reply: FastifyReply, aborted: boolean) => {
      if (logged.has(request)) return
      logged.add(request)
      const status = aborted ? CLIENT_CLOSED_STATUS : reply.statusCode
      metrics.httpRequests.inc({ route: request.routeOptions.url ?? 'unknown', status: String(status) })
      const { usage, timings, finishReason, prompt, reasoning, output, clientRequestId } = request.generationLog ?? {}
      request.log.info(
        {
          method: request.method,
          route: request.routeOptions.url ?? request.url,
          status,
          outcome: aborted ? 'aborted' : 'completed',
          clientRequestId,
          // A stream the client left mid-way had sent its headers (and a 200) already.
          ...(aborted && reply.raw.headersSent ? { statusSent: reply.statusCode } : {}),
          promptTokens: usage?.promptTokens,
          completionTokens: usage?.completionTokens,
          cachedTokens: usage?.cachedTokens,
          finishReason,
          queueMs: round(timings?.queueMs),
          ttftMs: round(timings?.ttftMs),
          durationMs: round(reply.elapsedTime),
          prompt,
          reasoning,
          output,
        },
        'request',
      )
    }
    app.decorateRequest('clientAborted', false)
    app.addHook('onRequest', async (request, reply) => {
      // Emitted when the connection closes before the request body was received in full.
      request.raw.once('aborted', () => {
        request.clientAborted = true
      })
      reply.raw.once('close', () => {
        if (reply.raw.writableFinished) return
        request.clientAborted = true
        record(request, reply, true)
      })
    })
    app.addHook('onResponse', async (request, reply) => record(request, reply, false))
  },
  { name: 'request-log' },
)

function round(ms: number | null | undefined): number | undefined {
  return ms == null ? undefined : Math.round(ms * 10) / 10
}

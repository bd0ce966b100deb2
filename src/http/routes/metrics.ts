import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'

/** Prometheus text exposition of the server's registry. */
export const metricsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', app.metrics.registry.contentType)
    return app.metrics.registry.metrics()
  })
}

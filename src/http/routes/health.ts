import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'

const HealthSchema = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('loading')]),
  models: Type.Array(
    Type.Object({
      id: Type.String(),
      state: Type.Union([Type.Literal('ready'), Type.Literal('loading')]),
      slots_busy: Type.Integer(),
      slots_total: Type.Integer(),
      queue: Type.Integer(),
    }),
  ),
})

/**
 * 200 once every model is loaded, 503 before: load balancers route only to ready replicas. The body
 * adds each model's busy slots and queue depth, for balancers that weigh replicas by load.
 */
export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/health', { schema: { summary: 'Readiness and load', response: { 200: HealthSchema, 503: HealthSchema } } }, async (_request, reply) => {
    const models = app.router.load()
    if (!app.router.ready) return reply.status(503).send({ status: 'loading' as const, models })
    return { status: 'ok' as const, models }
  })
}

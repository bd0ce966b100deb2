import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'

const HealthSchema = Type.Object({ status: Type.Union([Type.Literal('ok'), Type.Literal('loading')]) })

/** 200 once every model is loaded, 503 before: load balancers route only to ready replicas. */
export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/health', { schema: { summary: 'Readiness', response: { 200: HealthSchema, 503: HealthSchema } } }, async (_request, reply) => {
    if (!app.router.ready) return reply.status(503).send({ status: 'loading' as const })
    return { status: 'ok' as const }
  })
}

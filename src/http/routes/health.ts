import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ModelStatusSchema } from '../../api/schemas/models.js'

const HealthSchema = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('loading')]),
  models: Type.Array(
    Type.Object({
      id: Type.String(),
      state: ModelStatusSchema,
      progress: Type.Optional(Type.String({ description: 'While downloading, e.g. "downloading 41 %, 12 s left".' })),
      slots_busy: Type.Integer(),
      slots_total: Type.Integer(),
      queue: Type.Integer(),
    }),
  ),
})

/**
 * 200 once every model marked preload has loaded, 503 before: load balancers route only to ready
 * replicas. Models loaded on demand do not hold readiness back, and a preloaded model unloaded later
 * (ttl, eviction) does not take it away: it loads again on its next request. The body adds each model's
 * state, busy slots and queue depth, for balancers that weigh replicas by load.
 */
export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/health', { schema: { summary: 'Readiness and load', response: { 200: HealthSchema, 503: HealthSchema } } }, async (_request, reply) => {
    const models = app.models.describe().map((m) => ({
      id: m.id,
      state: m.state,
      ...(m.progress === undefined ? {} : { progress: m.progress }),
      slots_busy: m.slotsBusy,
      slots_total: m.slotsTotal,
      queue: m.queue,
    }))
    if (!app.models.ready) return reply.status(503).send({ status: 'loading' as const, models })
    return { status: 'ok' as const, models }
  })
}

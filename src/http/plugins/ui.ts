import type { FastifyInstance } from 'fastify'

/** The web playground and dashboard at `/` (static files built from `web/` into `dist/ui/`). */
export async function uiPlugin(_app: FastifyInstance): Promise<void> {}

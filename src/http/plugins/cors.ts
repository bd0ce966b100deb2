import cors from '@fastify/cors'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

/** Headers a browser client may read from our answers (request ids, ignored fields, back-off hints). */
const EXPOSED_HEADERS = [
  'x-request-id',
  // Anthropic's SDKs read the request id from this one.
  'request-id',
  'x-ignored-params',
  'x-schema-relaxed',
  'retry-after',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
]

/** CORS for browser clients: `["*"]` allows any origin, a list allows those exactly, `[]` sends no CORS headers. */
export const corsPlugin = fp(
  async (app: FastifyInstance, options: { origins: readonly string[] }) => {
    if (options.origins.length === 0) return
    await app.register(cors, {
      origin: options.origins.includes('*') ? '*' : [...options.origins],
      methods: ['GET', 'HEAD', 'POST', 'DELETE', 'OPTIONS'],
      exposedHeaders: EXPOSED_HEADERS,
      maxAge: 600,
      // An OPTIONS request that is no preflight goes on to routing (and its 404 envelope), not a plain-text 400.
      strictPreflight: false,
    })
  },
  { name: 'cors' },
)

import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { fanOutOf } from '../../api/codec/fan-out.js'
import { RateLimitedError } from '../../errors.js'
import { digest, isPublic, METRICS_PATH, presentedKey, routePath } from './auth.js'

export interface RateLimitOptions {
  max: number
  windowMs: number
  /** API keys are configured: requests that get here carry a valid one, which is the bucket. */
  keyed: boolean
}

/**
 * Per-key request limits: with API keys configured, each key (a digest of it, so keys never sit in memory twice);
 * without, each client address — never a key the client made up, which would be a fresh bucket per request.
 * A request counts as many as the generations it asks for (prompts × n). Past the budget, 429
 * `rate_limit_exceeded` with Retry-After in the OpenAI envelope. Runs after authentication, so a wrong key cannot
 * spend a real key's budget.
 */
export const rateLimitPlugin = fp(
  async (app: FastifyInstance, options: RateLimitOptions) => {
    if (options.max === 0) return
    const who = options.keyed ? 'this API key' : 'this client address'
    const exceeded = (retryAfterS: number, max: number) =>
      new RateLimitedError(retryAfterS, `Rate limit reached: ${max} requests per ${options.windowMs / 1000}s for ${who}; retry in ${retryAfterS}s.`)
    await app.register(rateLimit, {
      global: true,
      max: options.max,
      timeWindow: options.windowMs,
      keyGenerator: (request) => {
        const key = options.keyed ? presentedKey(request) : null
        return key === null ? `ip:${request.ip}` : `key:${digest(key).toString('hex')}`
      },
      // Probes and the keyless paths (the UI's files, the API description) are never limited: a limited client
      // must still see /health and the page.
      allowList: (request) => {
        const route = routePath(request)
        return request.method === 'OPTIONS' || route === METRICS_PATH || isPublic(route)
      },
      errorResponseBuilder: (_request, context) => exceeded(Math.max(1, Math.ceil(context.ttl / 1000)), context.max),
    })
    // The first generation was charged when the request arrived; the others once its body is read.
    const charge = app.createRateLimit()
    app.addHook('preHandler', async (request, reply) => {
      for (let extra = fanOutOf(request.body) - 1; extra > 0; extra--) {
        const result = await charge(request)
        if (result.isAllowed) return
        reply.header('x-ratelimit-remaining', result.remaining)
        if (result.isExceeded) throw exceeded(Math.max(1, result.ttlInSeconds), result.max)
      }
    })
  },
  { name: 'rate-limit' },
)

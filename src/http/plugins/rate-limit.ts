import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { RateLimitedError } from '../../errors.js'
import { digest, isPublic, METRICS_PATH, presentedKey } from './auth.js'


/**
 * Per-key request limits: each API key (a digest of it, so keys never sit in memory twice) or, without keys,
 * each client address gets `max` requests per window; past it, 429 `rate_limit_exceeded` with Retry-After in
 * the OpenAI envelope. Runs after authentication, so a wrong key cannot spend a real key's budget.
 */
export const rateLimitPlugin = fp(
  async (app: FastifyInstance, options: { max: number; windowMs: number }) => {
    if (options.max === 0) return
    await app.register(rateLimit, {
      global: true,
      max: options.max,
      timeWindow: options.windowMs,
      keyGenerator: (request) => {
        const key = presentedKey(request)
        return key === null ? `ip:${request.ip}` : `key:${digest(key).toString('hex')}`
      },
      // Probes and the keyless paths (the UI's files, the API description) are never limited: a limited client
      // must still see /health and the page.
      allowList: (request) => {
        const path = request.url.split('?')[0]!
        return request.method === 'OPTIONS' || path === METRICS_PATH || isPublic(path)
      },
      errorResponseBuilder: (_request, context) => new RateLimitedError(Math.max(1, Math.ceil(context.ttl / 1000)), context.max, options.windowMs),
    })
  },
  { name: 'rate-limit' },
)

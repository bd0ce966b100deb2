import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { RateLimitedError, UnauthorizedError } from '../../errors.js'
import { FixedWindowCounter } from '../fixed-window.js'

/**
 * Routes that stay open with keys configured: load balancers probe /health without credentials, the API
 * description (and, when enabled, its docs page) holds nothing secret, and the web UI's static files must load
 * before the page can ask for a key. /metrics is open unless it has its own token.
 */
const PUBLIC_PATHS = new Set(['/', '/index.html', '/favicon.svg', '/health', '/openapi.json', '/docs'])
const PUBLIC_PREFIXES = ['/docs/', '/assets/']
export const METRICS_PATH = '/metrics'

export interface AuthOptions {
  apiKeys: readonly string[]
  /** When set, /metrics needs exactly this Bearer token (API keys do not open it). */
  metricsToken?: string | undefined
  /** Wrong keys one client address may present per window before it is refused outright (max 0 = no limit). */
  failedAuth: { max: number; windowMs: number }
}

/**
 * API keys: `Authorization: Bearer <key>` (what every OpenAI SDK sends), `Authorization: Api-Key <key>`
 * (Baseten's scheme) or `x-api-key`. Keys are compared as SHA-256 digests with timingSafeEqual, so the
 * comparison takes the same time whatever the key's length or content.
 */
export const authPlugin = fp(
  async (app: FastifyInstance, options: AuthOptions) => {
    const keyDigests = options.apiKeys.map(digest)
    const metricsDigests = options.metricsToken ? [digest(options.metricsToken)] : []
    if (keyDigests.length === 0 && metricsDigests.length === 0) return
    const { max, windowMs } = options.failedAuth
    const failures = max > 0 ? new FixedWindowCounter(windowMs) : null
    app.addHook('onRequest', async (request) => {
      // CORS preflights carry no credentials by design; the CORS plugin answers them.
      if (request.method === 'OPTIONS') return
      const route = routePath(request)
      const required = route === METRICS_PATH ? metricsDigests : isPublic(route) ? [] : keyDigests
      if (required.length === 0) return
      // Refused before the key is even compared: a right key would otherwise still tell itself apart.
      if (failures && failures.count(request.ip) >= max) {
        const retryAfterS = failures.retryAfterS()
        throw new RateLimitedError(
          retryAfterS,
          `Too many wrong API keys from this address: ${max} per ${windowMs / 1000}s (server.rateLimit.failedAuthMax); retry in ${retryAfterS}s.`,
        )
      }
      const key = presentedKey(request)
      if (key === null) throw new UnauthorizedError()
      if (!matchesAny(required, digest(key))) {
        failures?.add(request.ip)
        throw new UnauthorizedError('Incorrect API key provided.')
      }
    })
  },
  { name: 'auth' },
)

/**
 * The route the router matched for this request (`/metrics`, `/v1/models/:model`), or null for none (a 404).
 * Every decision about a path is made on this, never on the raw URL: the router decodes percent-escapes and
 * drops the query and fragment, so `/%6detrics` or `/metrics#x` is the /metrics route, and the raw text of
 * those would pass a check written for "/metrics".
 */
export function routePath(request: FastifyRequest): string | null {
  return request.routeOptions.url ?? null
}

/** Routes that never need an API key (/metrics aside: it may have its own token). Unknown paths are not public. */
export function isPublic(route: string | null): boolean {
  if (route === null) return false
  return PUBLIC_PATHS.has(route) || PUBLIC_PREFIXES.some((prefix) => route.startsWith(prefix))
}

/** Checks every digest, not stopping at the first match, so timing says nothing about which matched. */
function matchesAny(digests: readonly Buffer[], presented: Buffer): boolean {
  let valid = false
  for (const d of digests) valid = timingSafeEqual(d, presented) || valid
  return valid
}

/** The key a request presents, in any of the accepted schemes; null when it presents none. */
export function presentedKey(request: FastifyRequest): string | null {
  const { authorization, 'x-api-key': xApiKey } = request.headers
  if (authorization) {
    const match = /^\s*(bearer|api-key)\s+(\S+)\s*$/i.exec(authorization)
    return match ? match[2]! : null
  }
  return typeof xApiKey === 'string' && xApiKey ? xApiKey : null
}

export function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest()
}

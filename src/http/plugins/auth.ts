import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { UnauthorizedError } from '../../errors.js'

/**
 * Routes that stay open with keys configured: load balancers and Prometheus probe them without credentials,
 * the API description (and, when enabled, its docs page) holds nothing secret, and the web UI's static files
 * must load before the page can ask for a key.
 */
const PUBLIC_PATHS = new Set(['/', '/index.html', '/favicon.svg', '/health', '/metrics', '/openapi.json', '/docs'])
const PUBLIC_PREFIXES = ['/docs/', '/assets/']

/**
 * API keys: `Authorization: Bearer <key>` (what every OpenAI SDK sends), `Authorization: Api-Key <key>`
 * (Baseten's scheme) or `x-api-key`. Keys are compared as SHA-256 digests with timingSafeEqual, so the
 * comparison takes the same time whatever the key's length or content.
 */
export const authPlugin = fp(
  async (app: FastifyInstance, options: { apiKeys: readonly string[] }) => {
    if (options.apiKeys.length === 0) return
    const digests = options.apiKeys.map(digest)
    app.addHook('onRequest', async (request) => {
      const path = request.url.split('?')[0]!
      if (PUBLIC_PATHS.has(path) || PUBLIC_PREFIXES.some((prefix) => path.startsWith(prefix))) return
      const key = presentedKey(request.headers.authorization, request.headers['x-api-key'])
      if (key === null) throw new UnauthorizedError()
      const presented = digest(key)
      // Check every key, not stopping at the first match, so timing says nothing about which matched.
      let valid = false
      for (const d of digests) valid = timingSafeEqual(d, presented) || valid
      if (!valid) throw new UnauthorizedError('Incorrect API key provided.')
    })
  },
  { name: 'auth' },
)

function presentedKey(authorization: string | undefined, xApiKey: string | string[] | undefined): string | null {
  if (authorization) {
    const match = /^\s*(bearer|api-key)\s+(\S+)\s*$/i.exec(authorization)
    return match ? match[2]! : null
  }
  return typeof xApiKey === 'string' && xApiKey ? xApiKey : null
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest()
}

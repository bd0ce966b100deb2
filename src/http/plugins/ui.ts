import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyReply } from 'fastify'
import fastifyStatic from '@fastify/static'
import { uiModelRoutes } from '../routes/ui-models.js'

/**
 * Where `npm run build` puts the page: dist/ui beside the compiled dist/http, which is `../../ui/` from
 * dist/http/plugins/ui.js; when this module runs from src/ (tsx, vitest) the build is the repo's dist/ui.
 */
const BUILD_CANDIDATES = [new URL('../../ui/', import.meta.url), new URL('../../../dist/ui/', import.meta.url)]

/** The page talks to this server only: no other origin, no inline script or style, no framing. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

const NOT_BUILT_PAGE =
  '<!doctype html><meta charset="utf-8"><title>gguf-serve</title>' +
  '<p>The web UI is not built. Run <code>npm run build</code>, or start with <code>--no-ui</code>.</p>'

/** The web playground and dashboard at `/` (static files built from `web/` into `dist/ui/`). */
export async function uiPlugin(app: FastifyInstance): Promise<void> {
  await app.register(uiModelRoutes)
  const root = BUILD_CANDIDATES.map((url) => fileURLToPath(url)).find((dir) => existsSync(`${dir}index.html`))
  if (!root) {
    // The API works without the page, so a missing build is a warning and a 503 page, not a failed start.
    app.log.warn('the web UI is not built (no dist/ui/index.html): GET / answers 503; run npm run build')
    app.get('/', async (_request, reply) => securePage(reply).status(503).type('text/html').send(NOT_BUILT_PAGE))
    return
  }
  await app.register(fastifyStatic, {
    root,
    // One route per built file, no catch-all: unknown paths keep the API's 404 error body.
    wildcard: false,
    index: 'index.html',
    setHeaders: (reply: FastifyReply, path: string) => {
      securePage(reply)
      // Vite puts a content hash in every asset's name, so those never change; the page itself may.
      reply.header('cache-control', path.startsWith(`${root}assets/`) ? 'public, max-age=31536000, immutable' : 'no-cache')
    },
  })
}

function securePage(reply: FastifyReply): FastifyReply {
  return reply.headers({
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  })
}

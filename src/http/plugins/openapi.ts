import type { FastifyInstance, FastifySchema } from 'fastify'
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { version } from '../../version.js'

export interface OpenApiOptions {
  /** `server.docs`: serve the interactive page at /docs. Defaults to `false`. */
  docs: boolean
}

/** The one prefix documented: the API is also served under '' and /v1/openai, with identical schemas. */
const DOCUMENTED_PREFIX = '/v1/'
const UNDOCUMENTED_PREFIX = '/v1/openai/'
/** Routes outside the API prefixes that the document keeps. */
const DOCUMENTED_ROUTES = new Set(['/health'])

/**
 * `GET /openapi.json`, generated from the routes' own TypeBox schemas (@fastify/swagger, dynamic mode), and,
 * with `server.docs`, Swagger UI at /docs (its assets are bundled, no CDN). Registered with `fp` before the
 * routes, so its onRoute hook sees every route of the app.
 */
export const openApiPlugin = fp(
  async (app: FastifyInstance, options: OpenApiOptions) => {
    await app.register(swagger, {
      mode: 'dynamic',
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'gguf-serve',
          version,
          description:
            'OpenAI-compatible API. Every /v1 route is also served without the prefix and under /v1/openai.',
        },
        components: {
          securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } },
        },
      },
      transform: ({ schema, url }) => ({ schema: documented(url) ? schema : hidden(schema), url }),
    })
    app.get('/openapi.json', { schema: { hide: true } as FastifySchema }, async () => app.swagger())
    if (options.docs) await app.register(swaggerUi, { routePrefix: '/docs' })
  },
  { name: 'openapi' },
)

function documented(url: string): boolean {
  return DOCUMENTED_ROUTES.has(url) || (url.startsWith(DOCUMENTED_PREFIX) && !url.startsWith(UNDOCUMENTED_PREFIX))
}

function hidden(schema: FastifySchema | undefined): FastifySchema {
  return { ...schema, hide: true } as FastifySchema
}

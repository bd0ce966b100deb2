import { randomUUID } from 'node:crypto'
import Fastify, {
  LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Logger } from 'pino'
import type { Config } from '../config/schema.js'
import type { GenerationInput } from '../generation/request.js'
import type { FinishReason, Usage } from '../generation/events.js'
import type { ServeMetrics } from '../observability/metrics.js'
import type { ModelBackend, RequestTimings } from '../generation/backend.js'
import { ignoredParams } from '../api/codec/generation-params.js'
import { authPlugin } from './plugins/auth.js'
import { corsPlugin } from './plugins/cors.js'
import { limitsPlugin } from './plugins/limits.js'
import { InvalidRequestError } from '../errors.js'
import { clientErrorResponse, errorBody } from './error-body.js'
import { errorsPlugin } from './plugins/errors.js'
import { openApiPlugin } from './plugins/openapi.js'
import { rateLimitPlugin } from './plugins/rate-limit.js'
import { requestLogPlugin } from './plugins/request-log.js'
import { uiPlugin } from './plugins/ui.js'
import { chatRoutes } from './routes/chat.js'
import { completionRoutes } from './routes/completions.js'
import { embeddingRoutes } from './routes/embeddings.js'
import { healthRoutes } from './routes/health.js'
import { messagesRoutes } from './routes/messages.js'
import { metricsRoutes } from './routes/metrics.js'
import { modelRoutes } from './routes/models.js'
import { tokenizeRoutes } from './routes/tokenize.js'
import { responseRecordRoutes } from './routes/response-records.js'
import { responseRoutes } from './routes/responses.js'
import { openResponseStore } from '../store/open-response-store.js'
import type { ResponseStore } from '../store/response-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The backend: all that routes may ask of the models. */
    models: ModelBackend
    metrics: ServeMetrics
    /** `log.prompts`: prompts and outputs go into request log lines only when this is set. */
    logPrompts: boolean
    /** Stored /v1/responses results; null with `--no-store`. */
    responseStore: ResponseStore | null
  }
  interface FastifyRequest {
    /** Filled while a generation runs; logged once when the response ends. */
    generationLog: {
      usage?: Usage
      timings?: RequestTimings
      finishReason?: FinishReason
      prompt?: GenerationInput
      reasoning?: string
      output?: string
      /** The body's `request_id` (vLLM), when the client sent one. */
      clientRequestId?: string
    }
  }
}

export interface AppDependencies {
  config: Config
  models: ModelBackend
  log: Logger
  metrics: ServeMetrics
  /** Defaults to the store `config.responses` describes (opened here, closed with the app). */
  responseStore?: ResponseStore | null
}

/** Same routes under every base URL clients are configured with: `/v1` (OpenAI), none, and DeepInfra's `/v1/openai`. */
const API_PREFIXES = ['/v1', '', '/v1/openai']

const MAX_REQUEST_ID_LENGTH = 128

/** The app as a plugin tree; it never listens (the CLI and tests do). */
export async function buildApp({ config, models, log, metrics, responseStore }: AppDependencies): Promise<FastifyInstance> {
  const store = responseStore === undefined ? await openResponseStore(config.responses, log) : responseStore
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // Fastify's two lines per request are replaced by one of ours, with tokens and timings.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.server.bodyLimitBytes,
    // Honour a client's x-request-id (bounded), else make one; it is echoed back and keys the log line.
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      return typeof given === 'string' && given && given.length <= MAX_REQUEST_ID_LENGTH ? given : randomUUID()
    },
    ajv: {
      // Known keys are strict: no coercion ("n": true must not become 1), nothing silently removed.
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false },
    },
    return503OnClosing: true,
    // Slow clients (slowloris) are cut off: headers and the whole request each have a deadline, checked every
    // second rather than Node's default 30 s. Neither bounds the response: generations stream as long as needed.
    http: {
      headersTimeout: Math.min(config.server.headersTimeoutMs, config.server.bodyTimeoutMs),
      connectionsCheckingInterval: 1000,
      // Node would answer a request without Host with an empty 400 of its own; the host is not used here.
      requireHostHeader: false,
    },
    requestTimeout: config.server.bodyTimeoutMs,
    keepAliveTimeout: config.server.keepAliveTimeoutMs,
    clientErrorHandler: (error, socket) => {
      if (socket.writable) socket.end(clientErrorResponse(error))
      else socket.destroy()
    },
    // Errors Fastify finds before routing (a URL that does not decode) get the envelope too.
    frameworkErrors: (error, _request, reply) => {
      void (reply as FastifyReply).status(400).send(errorBody(new InvalidRequestError(`Invalid request URL: ${error.message}`, null)))
    },
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.decorate('models', models)
  app.decorate('metrics', metrics)
  app.decorate('logPrompts', config.log.prompts)
  app.decorate('responseStore', store)
  app.addHook('onClose', async () => {
    await store?.close()
  })
  // Fastify forbids a shared object as a request decoration: null here, a fresh object per request below.
  app.decorateRequest('generationLog', null as unknown as FastifyRequest['generationLog'])
  app.addHook('onRequest', async (request, reply) => {
    request.generationLog = {}
    reply.header('x-request-id', request.id)
  })
  // Unknown top-level fields are accepted and ignored (clients add their own); the reply names them.
  app.addHook('preHandler', async (request, reply) => {
    const schema = request.routeOptions.schema?.body as { properties?: object } | undefined
    const body = request.body
    if (!schema?.properties || typeof body !== 'object' || body === null || Array.isArray(body)) return
    const ignored = ignoredParams(body, schema as { properties: object })
    // Header values must be printable ASCII: other key names (emoji, control characters) go percent-encoded.
    if (ignored.length > 0) reply.header('x-ignored-params', ignored.map((key) => (/^[!-+\--~]+$/.test(key) ? key : encodeURIComponent(key))).join(','))
    // vLLM's `request_id` in the body (validated by the route's schema where it is known) names the request too.
    const clientRequestId = Object.hasOwn(schema.properties, 'request_id') ? (body as { request_id?: unknown }).request_id : undefined
    if (typeof clientRequestId === 'string') {
      reply.header('x-request-id', clientRequestId)
      request.generationLog.clientRequestId = clientRequestId
    }
  })
  await app.register(errorsPlugin, { bodyLimit: config.server.bodyLimitBytes })
  // Before auth and the limits: a request they refuse is logged and counted too.
  await app.register(requestLogPlugin, { metrics })
  await app.register(corsPlugin, { origins: config.server.corsOrigins })
  await app.register(authPlugin, {
    apiKeys: config.server.apiKeys,
    metricsToken: config.server.metricsToken,
    failedAuth: { max: config.server.rateLimit.failedAuthMax, windowMs: config.server.rateLimit.windowMs },
  })
  await app.register(rateLimitPlugin, { ...config.server.rateLimit, keyed: config.server.apiKeys.length > 0 })
  await app.register(limitsPlugin)
  // Before the routes: it collects their schemas as they are added.
  await app.register(openApiPlugin, { docs: config.server.docs })
  await app.register(healthRoutes)
  await app.register(metricsRoutes)
  for (const prefix of API_PREFIXES) {
    await app.register(chatRoutes, { prefix, pingMs: config.server.streamPingMs })
    await app.register(completionRoutes, { prefix, pingMs: config.server.streamPingMs })
    await app.register(modelRoutes, { prefix })
    await app.register(embeddingRoutes, { prefix })
    await app.register(tokenizeRoutes, { prefix })
    await app.register(messagesRoutes, { prefix, pingMs: config.server.streamPingMs })
    await app.register(responseRoutes, { prefix, pingMs: config.server.streamPingMs })
    await app.register(responseRecordRoutes, { prefix })
  }
  if (config.server.ui) await app.register(uiPlugin)
  return app
}

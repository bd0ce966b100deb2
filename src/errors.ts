/**
 * Typed errors shared by every layer. Each carries what the HTTP layer needs to answer in OpenAI's
 * envelope (`{"error":{"message","type","param","code"}}`); the mapping to a reply lives in one place
 * (`src/http/plugins/errors.ts`). Messages say what was wrong, the limit and how to fix it.
 */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'

export interface ServeErrorOptions {
  param?: string | null
  code?: string | null
  headers?: Record<string, string>
  cause?: unknown
}

export abstract class ServeError extends Error {
  abstract readonly status: number
  abstract readonly type: ErrorType
  readonly param: string | null
  readonly code: string | null
  readonly headers: Record<string, string>

  constructor(message: string, options: ServeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.param = options.param ?? null
    this.code = options.code ?? null
    this.headers = options.headers ?? {}
  }
}

/** 400: a parameter is wrong, out of range or not supported. `param` names it. */
export class InvalidRequestError extends ServeError {
  readonly status = 400
  readonly type = 'invalid_request_error'
  constructor(message: string, param: string | null, code: string | null = null) {
    super(message, { param, code })
  }
}

/** 400 `context_length_exceeded`: the prompt alone does not fit the model's context. */
export class ContextLengthExceededError extends ServeError {
  readonly status = 400
  readonly type = 'invalid_request_error'
  /** `atLeast`: the count is a lower bound (the prompt was refused before it was tokenized). */
  constructor(promptTokens: number, contextSize: number, param = 'messages', atLeast = false) {
    super(
      `This model's maximum context length is ${contextSize} tokens, but the prompt has ${atLeast ? 'at least ' : ''}${promptTokens} tokens. ` +
        'Shorten the prompt or start the server with a larger --context-size.',
      { param, code: 'context_length_exceeded' },
    )
  }
}

/** 401: missing or wrong API key. */
export class UnauthorizedError extends ServeError {
  readonly status = 401
  // OpenAI answers a bad key with invalid_request_error/invalid_api_key; the SDKs key on the status.
  readonly type = 'invalid_request_error'
  constructor(message = 'Missing or invalid API key. Send it as "Authorization: Bearer <key>".') {
    super(message, { code: 'invalid_api_key' })
  }
}

/** 404 `model_not_found`. */
export class ModelNotFoundError extends ServeError {
  readonly status = 404
  readonly type = 'invalid_request_error'
  constructor(model: string, known: string[]) {
    super(`The model '${model}' does not exist. Available models: ${known.join(', ') || '(none)'}.`, {
      param: 'model',
      code: 'model_not_found',
    })
  }
}

/** 404 for a route that does not exist. */
export class RouteNotFoundError extends ServeError {
  readonly status = 404
  readonly type = 'invalid_request_error'
  constructor(method: string, url: string) {
    super(`Unknown request URL: ${method} ${url.split('?')[0]}.`, { code: 'unknown_url' })
  }
}

/** 404 for a stored object (a response, an item) that does not exist, was deleted or has expired. */
export class NotFoundError extends ServeError {
  readonly status = 404
  readonly type = 'invalid_request_error'
  constructor(message: string, param: string | null, code = 'not_found') {
    super(message, { param, code })
  }
}

/**
 * Another 4xx that the HTTP framework or a plugin found (e.g. @fastify/static's 403 for a path that climbs
 * out of its root), kept at its status in the envelope; the message is the framework's own short one.
 */
export class HttpClientError extends ServeError {
  readonly type = 'invalid_request_error'
  constructor(
    readonly status: number,
    message: string,
    code: string | null = null,
  ) {
    super(message, { code })
  }
}

/** 413: the request body is over the configured limit. */
export class PayloadTooLargeError extends ServeError {
  readonly status = 413
  readonly type = 'invalid_request_error'
  constructor(limitBytes: number) {
    super(`Request body is larger than the limit of ${limitBytes} bytes (server.bodyLimitBytes).`, {
      code: 'request_too_large',
    })
  }
}

/** 429: the queue is full. The SDKs retry on 429, honouring Retry-After. */
export class OverloadedError extends ServeError {
  readonly status = 429
  readonly type = 'rate_limit_error'
  constructor(retryAfterS: number, message = `The server is at capacity; retry in ${retryAfterS}s.`) {
    super(message, { code: 'queue_full', headers: { 'retry-after': String(retryAfterS) } })
  }
}

/** 429 `rate_limit_exceeded`: this API key (or client address) used up its budget for the window (server.rateLimit). */
export class RateLimitedError extends ServeError {
  readonly status = 429
  readonly type = 'rate_limit_error'
  constructor(retryAfterS: number, message: string) {
    super(message, { code: 'rate_limit_exceeded', headers: { 'retry-after': String(retryAfterS) } })
  }
}

/** 503: the model is still loading, or the server is shutting down. */
export class UnavailableError extends ServeError {
  readonly status = 503
  readonly type = 'server_error'
  constructor(message: string, code: string, retryAfterS = 1) {
    super(message, { code, headers: { 'retry-after': String(retryAfterS) } })
  }
}

/** 503 `timeout`: the request passed the server's deadline (server.requestTimeoutMs) before producing text. */
export class RequestTimeoutError extends ServeError {
  readonly status = 503
  readonly type = 'server_error'
  constructor(timeoutMs: number, where: 'queued' | 'running') {
    super(
      `The request did not ${where === 'queued' ? 'reach a slot' : 'produce output'} within the server's ${timeoutMs} ms deadline; retry later.`,
      { code: 'timeout', headers: { 'retry-after': '1' } },
    )
  }
}

/** A failure inside the engine, as clients see it: what failed, never the internals. */
export const GENERATION_FAILED = 'Generation failed inside the engine; the server log has the details.'

/** 500: something failed inside the engine. The message is sent; the cause (internal detail) is only logged. */
export class EngineError extends ServeError {
  readonly status = 500
  readonly type = 'server_error'
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'engine_error', cause })
  }
}

/**
 * A problem found before the server can serve (bad config, missing or broken model file, failed
 * download). The CLI prints the message (no stack trace) and exits non-zero.
 */
export class StartupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StartupError'
  }
}

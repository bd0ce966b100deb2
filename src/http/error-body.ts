import type { FastifyError } from 'fastify'
import {
  HttpClientError,
  InvalidRequestError,
  PayloadTooLargeError,
  ServeError,
} from '../errors.js'

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null }
}

export function errorBody(error: ServeError): ErrorBody {
  return { error: { message: error.message, type: error.type, param: error.param, code: error.code } }
}

interface AjvError {
  instancePath: string
  keyword: string
  message?: string
  params: Record<string, unknown>
}

/**
 * Fastify's own errors (schema validation, JSON parsing, body limits) become ServeErrors here, so every
 * error leaves in OpenAI's envelope. Validation is a 400 naming the field, never a 422 or Ajv's dump.
 */
export function fromFastifyError(error: FastifyError & { validation?: AjvError[] }, bodyLimit: number): ServeError | null {
  if (error.validation?.length) return fromValidation(error.validation)
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PayloadTooLargeError(bodyLimit)
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new InvalidRequestError('The request body must be JSON, sent with Content-Type: application/json.', null)
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new InvalidRequestError('The request body is empty; send a JSON object.', null)
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new InvalidRequestError(`The request body is not valid JSON: ${error.message}`, null)
  }
  if (error instanceof SyntaxError || (error.statusCode === 400 && /JSON/i.test(error.message))) {
    return new InvalidRequestError(`The request body is not valid JSON: ${error.message}`, null)
  }
  return fromFrameworkStatus(error)
}

/**
 * A 4xx raised on purpose by Fastify (`FST_…` codes) or by a plugin through http-errors (`expose`: its message
 * is meant for clients), e.g. @fastify/static refusing `/docs/static/../../package.json`. Any other thrown error,
 * whatever properties it carries, stays a server error.
 */
function fromFrameworkStatus(error: FastifyError & { status?: number; expose?: boolean }): ServeError | null {
  const status = error.statusCode ?? error.status
  const deliberate = error.code?.startsWith('FST_') || error.expose === true
  if (!deliberate || status === undefined || status < 400 || status > 499) return null
  if (status === 403 || status === 404) return new HttpClientError(status, status === 403 ? 'This path is not served.' : 'Not found.', 'unknown_url')
  return new HttpClientError(status, `${error.message.replace(/\.$/, '')}.`)
}

function fromValidation(errors: AjvError[]): InvalidRequestError {
  // Ajv reports a union's branches before the union itself; the deepest path is the most specific. At one path,
  // a branch that failed on something other than the type (33 `stop` strings: maxItems) is the one the value
  // meant, so its message (naming the limit) wins over "must be string".
  const error = errors.reduce((a, b) => (b.instancePath.length > a.instancePath.length || (b.instancePath === a.instancePath && rank(b) > rank(a)) ? b : a))
  let path = error.instancePath
  if (error.keyword === 'required') path += `/${String(error.params.missingProperty)}`
  const param = toParam(path)
  if (param === null) return new InvalidRequestError(`The request body ${error.message ?? 'is invalid'}.`, null)
  const problem = error.keyword === 'required' ? 'is required' : (error.message ?? 'is invalid')
  const allowed = error.keyword === 'anyOf' ? ' (wrong type)' : error.params.allowedValues ? `: ${JSON.stringify(error.params.allowedValues)}` : ''
  return new InvalidRequestError(`Invalid '${param}': ${problem}${allowed}.`, param)
}

function rank(error: AjvError): number {
  return error.keyword === 'anyOf' ? 0 : error.keyword === 'type' ? 1 : 2
}

/** `/messages/0/role` → `messages[0].role`, the form OpenAI's `param` uses. */
export function toParam(instancePath: string): string | null {
  const parts = instancePath.split('/').filter(Boolean)
  if (parts.length === 0) return null
  return parts.reduce((out, part) => (/^\d+$/.test(part) ? `${out}[${part}]` : out ? `${out}.${part}` : part), '')
}

/**
 * Node's own HTTP parser errors (a bad method or framing, headers too large, a request not received in time)
 * never reach Fastify's handlers; answered here on the raw socket, in the same envelope.
 */
export function clientErrorResponse(error: NodeJS.ErrnoException): string {
  const [status, reason, message] =
    error.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large', 'The request headers are too large.']
    : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout', 'The request was not received in time (server.headersTimeoutMs, server.bodyTimeoutMs).']
    : [400, 'Bad Request', 'The request is not valid HTTP.']
  const body = JSON.stringify(errorBody(new InvalidRequestError(message, null)))
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
}

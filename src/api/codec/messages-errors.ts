import { OverloadedError, type ServeError } from '../../errors.js'
import type { AnthropicErrorBody } from '../schemas/messages.js'

/** Anthropic's error types, by the status they go with. */
const TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  // 503 (model loading, shutting down, a request past its deadline) is a temporary lack of capacity: retry later.
  503: 'overloaded_error',
  529: 'overloaded_error',
}

/**
 * A typed error in Anthropic's envelope, `{type: "error", error: {type, message}, request_id}`. The status
 * stays the error's own except for a full queue: 529 `overloaded_error`, not 429 `rate_limit_error`.
 * Anthropic keeps 429 for a client that went over its own limit (here: server.rateLimit, per API key) and 529
 * for a server short of capacity, which a full queue is; its SDKs retry both (honouring Retry-After), and
 * Claude Code words them differently ("rate limited" vs "overloaded"), so the distinction tells users which
 * knob to turn (their request rate vs queueMax/parallel).
 */
export function encodeAnthropicError(error: ServeError, requestId: string): { status: number; body: AnthropicErrorBody } {
  const status = error instanceof OverloadedError ? 529 : error.status
  const type = TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error')
  // Anthropic's words for it, which clients look for (Claude Code compacts the conversation when it sees them).
  const message = error.code === 'context_length_exceeded' ? `prompt is too long: ${error.message}` : error.message
  return { status, body: { type: 'error', error: { type, message }, request_id: requestId } }
}

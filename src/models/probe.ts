import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import { StartupError } from '../errors.js'

/**
 * Asks the server for the first byte of a model before the downloader takes over, retrying with backoff
 * for a bounded time (download.retryWindowMs). The downloader underneath (ipull) retries DNS, connection
 * and TLS failures silently for about 12 minutes and its manifest lookup not at all; this puts every
 * source form (hf: file, hf: quant tag, URL) behind the same bounded, logged retries and the same one-line
 * failure.
 */

export interface ProbeOptions {
  source: string
  headers: Record<string, string>
  retryWindowMs: number
  log: Pick<Logger, 'warn'>
  signal: AbortSignal | undefined
}

/** Longest wait for one attempt's response headers. */
const ATTEMPT_TIMEOUT_MS = 10_000
const FIRST_BACKOFF_MS = 1_000
const MAX_BACKOFF_MS = 8_000

/** Resolves once `url` answers 2xx; throws a StartupError naming the source and the last cause otherwise. */
export async function probeDownload(url: string, options: ProbeOptions): Promise<void> {
  // The window opens at the first failure: a first attempt slowed down by a busy machine costs no retries.
  let startedAt = 0
  let deadline = Infinity
  let backoffMs = FIRST_BACKOFF_MS
  for (let attempt = 1; ; attempt++) {
    const remainingMs = deadline - Date.now()
    const outcome = await attemptOnce(url, options, Math.max(1_000, Math.min(ATTEMPT_TIMEOUT_MS, remainingMs)))
    if (outcome === 'ok') return
    if (attempt === 1) {
      startedAt = Date.now()
      deadline = startedAt + options.retryWindowMs
    }
    const retryInMs = Math.min(backoffMs, deadline - Date.now())
    if (!outcome.retryable || retryInMs <= 0) {
      const seconds = Math.round((Date.now() - startedAt) / 100) / 10
      const tries = attempt > 1 ? ` (gave up after ${attempt} attempts in ${seconds} s)` : ''
      throw new StartupError(`Cannot download ${options.source}: ${outcome.cause}${tries}.`)
    }
    options.log.warn(
      { source: options.source, attempt, cause: outcome.cause, retryInMs },
      `model: ${outcome.cause}; retrying in ${Math.ceil(retryInMs / 1000)} s`,
    )
    await sleep(retryInMs, undefined, { signal: options.signal })
    backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS)
  }
}

type Outcome = 'ok' | { cause: string; retryable: boolean }

async function attemptOnce(url: string, options: ProbeOptions, timeoutMs: number): Promise<Outcome> {
  const timeout = AbortSignal.timeout(timeoutMs)
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout
  try {
    // One byte, not HEAD: some CDNs answer HEAD differently from the GET the download makes.
    const response = await fetch(url, { headers: { ...options.headers, range: 'bytes=0-0' }, signal, redirect: 'follow' })
    await response.body?.cancel()
    if (response.ok) return 'ok'
    return { cause: describeHttpStatus(response.status, response.statusText, url), retryable: isRetryableStatus(response.status) }
  } catch (error) {
    options.signal?.throwIfAborted()
    if (timeout.aborted) return { cause: `no answer from ${new URL(url).host} within ${timeoutMs / 1000} s`, retryable: true }
    return describeNetworkError(error, url)
  }
}

/** 408, 429 and 5xx may pass; any other 4xx (missing file, no access) will not. */
function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500
}

/** An HTTP refusal of a model URL, with what to do about the usual ones. */
export function describeHttpStatus(status: number, statusText: string, url: string): string {
  const hint =
    status === 401 || status === 403
      ? ' (the server wants credentials: for a gated or private Hugging Face repository pass --hf-token or set GGUF_SERVE_HF_TOKEN)'
      : status === 404
        ? ' (no such file: check the repository and file name)'
        : ''
  return `HTTP ${status}${statusText ? ` ${statusText}` : ''} from ${url}${hint}`
}

/** Node's fetch throws "fetch failed" with the real error (DNS, socket, TLS) as its cause. */
function describeNetworkError(error: unknown, url: string): Outcome {
  const cause = (error as { cause?: unknown }).cause ?? error
  const code = (cause as { code?: unknown }).code
  const message = cause instanceof Error ? cause.message : String(cause)
  const host = new URL(url).host
  // An authoritative "no such host" will not change in 30 s; EAI_AGAIN (no DNS answer yet) might.
  if (code === 'ENOTFOUND') return { cause: `the host ${host} does not resolve (DNS: ENOTFOUND)`, retryable: false }
  if (code === 'EAI_AGAIN') return { cause: `DNS lookup of ${host} failed (EAI_AGAIN: offline?)`, retryable: true }
  if (code === 'ECONNREFUSED') return { cause: `connection refused by ${host}`, retryable: true }
  if (typeof code === 'string' && /CERT|SSL|TLS|SELF_SIGNED/.test(code)) return { cause: `TLS error with ${host}: ${message} (${code})`, retryable: true }
  return { cause: `${message}${typeof code === 'string' && !message.includes(code) ? ` (${code})` : ''} from ${host}`, retryable: true }
}

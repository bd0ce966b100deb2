import { createRequire } from 'node:module'
import { pino, type Logger } from 'pino'
import type { PinoPretty as PinoPrettyFactory } from 'pino-pretty'
import type { Config } from '../config/schema.js'

/**
 * Logs go to stderr (stdout stays free for command output such as `--help` or `pull`'s path): coloured
 * lines for a person at a terminal, JSON lines for log collectors (`auto` picks by whether stderr is a
 * TTY). Secrets that could reach a log through headers are redacted either way.
 */
export function createLogger(level: Config['log']['level'], format: Config['log']['format'] = 'json'): Logger {
  const pretty = format === 'pretty' || (format === 'auto' && process.stderr.isTTY === true)
  const options = {
    level,
    base: { service: 'gguf-serve' },
    redact: { paths: ['req.headers.authorization', 'req.headers["x-api-key"]', '*.apiKeys', '*.hfToken'], censor: '[redacted]' },
  }
  if (!pretty) return pino(options, pino.destination(2))
  // Loaded only for people at a terminal: every CLI start would otherwise pay for it.
  const { PinoPretty } = createRequire(import.meta.url)('pino-pretty') as { PinoPretty: typeof PinoPrettyFactory }
  // In-process and synchronous, not a worker transport: the last lines before process.exit() must not be lost.
  return pino(
    options,
    PinoPretty({ destination: 2, sync: true, colorize: process.stderr.isTTY === true, translateTime: 'SYS:HH:MM:ss', singleLine: true, ignore: 'pid,hostname,service' }),
  )
}

import { pino, type Logger } from 'pino'
import type { Config } from '../config/schema.js'

/**
 * JSON lines on stderr (stdout stays free for command output such as `--help`). Secrets that could
 * reach a log through headers are redacted.
 */
export function createLogger(level: Config['log']['level']): Logger {
  return pino(
    {
      level,
      base: { service: 'gguf-serve' },
      redact: { paths: ['req.headers.authorization', 'req.headers["x-api-key"]', '*.apiKeys', '*.hfToken'], censor: '[redacted]' },
    },
    pino.destination(2),
  )
}

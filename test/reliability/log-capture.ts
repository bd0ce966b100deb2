import { Writable } from 'node:stream'
import { pino, type Logger } from 'pino'

/** One line of the server's JSON log, as far as the checks below read it. */
export interface LogLine {
  level: number
  msg?: string
  reqId?: string
  err?: { type?: string; message?: string; stack?: string }
  status?: number
  outcome?: string
  component?: string
  [key: string]: unknown
}

/** pino's level numbers. */
const ERROR = 50

/** What the error handler logs when it decides the client left (src/http/plugins/errors.ts). */
export const CLIENT_LEFT = 'the client left before the response started'

/**
 * A logger for an in-process server that keeps its lines (info and up), parsed; `keep` picks which, so a long
 * run holds only those it checks (every line is still parsed).
 */
export function capturingLogger(keep: (line: LogLine) => boolean = () => true): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = []
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...parseLogLines(chunk.toString()).filter(keep))
      done()
    },
  })
  return { logger: pino({ level: 'info' }, sink), lines }
}

/** The JSON log lines in a process's output (other lines, e.g. native stderr, skipped). */
export function parseLogLines(text: string): LogLine[] {
  const lines: LogLine[] = []
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue
    try {
      lines.push(JSON.parse(line) as LogLine)
    } catch {
      // A line cut mid-write by a killed process.
    }
  }
  return lines
}

/**
 * What is wrong in a server's log after a run:
 * - an error-level line that none of `expected` matches (tested against the line's JSON);
 * - a request answered 4xx whose handling threw something the server logged as an exception, or that the server
 *   said the client had left, although the client got its answer: a 4xx that hides a server error.
 */
export function logProblems(lines: readonly LogLine[], expected: readonly RegExp[] = []): string[] {
  const problems: string[] = []
  for (const line of lines) {
    if (line.level < ERROR) continue
    const text = JSON.stringify(line)
    if (!expected.some((pattern) => pattern.test(text))) problems.push(`unexpected error-level log line: ${text.slice(0, 400)}`)
  }
  const suspicious = new Map<string, LogLine>()
  for (const line of lines) {
    if (line.reqId && (line.err || line.msg === CLIENT_LEFT)) suspicious.set(line.reqId, line)
  }
  for (const line of lines) {
    if (line.msg !== 'request' || !line.reqId || line.status === undefined) continue
    const cause = suspicious.get(line.reqId)
    if (cause && line.status >= 400 && line.status < 499) {
      problems.push(`request ${line.reqId} answered ${line.status} over a thrown exception: ${JSON.stringify(cause).slice(0, 300)}`)
    }
  }
  return problems
}

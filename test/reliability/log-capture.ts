import { Writable } from 'node:stream'
import { pino, type Logger } from 'pino'

/** A logger for an in-process server that keeps its warning and error lines, for the report. */
export function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString().trimEnd())
      done()
    },
  })
  return { logger: pino({ level: 'warn' }, sink), lines }
}

import { SseParser } from '../../src/api/sse-parser.js'

/** Reads an SSE body into its `data:` payloads (the final "[DONE]" kept as a string). */
export function sseEvents(text: string): Array<any> {
  return new SseParser().push(text).map((data) => (data === '[DONE]' ? data : JSON.parse(data)))
}

/**
 * Reads a Responses or Anthropic Messages SSE body: each event's `event:` line must match its payload's `type`; no
 * `[DONE]`. Comment frames (the `: ping` keep-alives of a queued stream) are skipped, as SSE parsers do.
 */
export function parseTypedEvents(text: string): any[] {
  return text
    .split('\n\n')
    .filter((frame) => frame.trim() && !frame.split('\n').every((line) => line.startsWith(':')))
    .map((frame) => {
      const lines = frame.split('\n')
      const name = lines.find((line) => line.startsWith('event: '))?.slice(7)
      const data = JSON.parse(lines.filter((line) => line.startsWith('data: ')).map((line) => line.slice(6)).join('\n'))
      if (name !== data.type) throw new Error(`event line '${name}' but type '${data.type}'`)
      return data
    })
}

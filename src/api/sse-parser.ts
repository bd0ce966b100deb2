/**
 * Splits a text/event-stream into the `data` of each event, as chunks arrive: an event ends at a blank
 * line, its `data:` lines join with "\n", comment lines (`: ping`) and other fields are skipped.
 * The client side of our streams, shared by the web UI and `gguf-serve bench`: pure (no DOM, no Node).
 */
export class SseParser {
  private buffer = ''

  /** Feeds a decoded chunk; returns the data of every event it completed. */
  push(chunk: string): string[] {
    this.buffer += chunk.replace(/\r\n?/g, '\n')
    const events: string[] = []
    let end: number
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const data = dataOf(this.buffer.slice(0, end))
      this.buffer = this.buffer.slice(end + 2)
      if (data !== null) events.push(data)
    }
    return events
  }
}

function dataOf(block: string): string | null {
  const lines = block
    .split('\n')
    .filter((line) => line === 'data' || line.startsWith('data:'))
    .map((line) => line.slice('data:'.length).replace(/^ /, ''))
  return lines.length > 0 ? lines.join('\n') : null
}

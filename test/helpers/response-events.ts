/** Reads a Responses SSE body: each event's `event:` line must match its payload's `type`; no `[DONE]`. */
export function parseResponseEvents(text: string): any[] {
  return text
    .split('\n\n')
    .filter((frame) => frame.trim())
    .map((frame) => {
      const lines = frame.split('\n')
      const name = lines.find((line) => line.startsWith('event: '))?.slice(7)
      const data = JSON.parse(lines.filter((line) => line.startsWith('data: ')).map((line) => line.slice(6)).join('\n'))
      if (name !== data.type) throw new Error(`event line '${name}' but type '${data.type}'`)
      return data
    })
}

import { connect } from 'node:net'

export interface RawReply {
  /** 0 when the server closed the connection without answering. */
  status: number
  headers: Record<string, string>
  body: string
  /** Milliseconds from connecting until the server closed the connection (or we gave up). */
  closedAfterMs: number
}

/**
 * Writes `request` (bytes exactly as given: broken framing, invalid UTF-8, odd methods) on a fresh
 * connection and reads until the server closes it or `waitMs` passes. Only the first response is parsed.
 * `pieces` with a delay dribble the request out (slowloris).
 */
export function rawRequest(
  origin: string,
  request: Buffer | Buffer[],
  { waitMs = 10_000, pieceDelayMs = 0, head = false }: { waitMs?: number; pieceDelayMs?: number; head?: boolean } = {},
): Promise<RawReply> {
  const { hostname, port } = new URL(origin)
  const pieces = Array.isArray(request) ? request : [request]
  return new Promise((resolve) => {
    const started = performance.now()
    const chunks: Buffer[] = []
    const socket = connect(Number(port), hostname)
    const giveUp = setTimeout(() => socket.destroy(), waitMs)
    socket.on('connect', async () => {
      for (const [i, piece] of pieces.entries()) {
        if (socket.destroyed) return
        if (i > 0 && pieceDelayMs > 0) await new Promise((r) => setTimeout(r, pieceDelayMs))
        socket.write(piece)
      }
    })
    socket.on('data', (chunk) => {
      chunks.push(chunk)
      // Keep-alive: stop once one whole response with a length is in, instead of waiting for the server.
      if (responseComplete(Buffer.concat(chunks), head)) socket.destroy()
    })
    // A reset after the server answered is normal for a request it refused mid-body.
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(giveUp)
      resolve({ ...parseResponse(Buffer.concat(chunks)), closedAfterMs: performance.now() - started })
    })
  })
}

/** Builds request bytes: a request line, headers (in order, duplicates allowed) and a body. */
export function httpRequest(method: string, target: string, headers: Array<[string, string]>, body: Buffer | string = ''): Buffer {
  const head = `${method} ${target} HTTP/1.1\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`
  return Buffer.concat([Buffer.from(head, 'latin1'), typeof body === 'string' ? Buffer.from(body) : body])
}

/** `head`: a HEAD response has a length but no body. */
function responseComplete(bytes: Buffer, head: boolean): boolean {
  const headEnd = bytes.indexOf('\r\n\r\n')
  if (head) return headEnd >= 0
  const length = /\r\ncontent-length: *(\d+)/i.exec(bytes.subarray(0, headEnd).toString('latin1'))?.[1]
  return headEnd >= 0 && length !== undefined && bytes.length - headEnd - 4 >= Number(length)
}

function parseResponse(bytes: Buffer): Omit<RawReply, 'closedAfterMs'> {
  const headEnd = bytes.indexOf('\r\n\r\n')
  if (headEnd < 0) return { status: 0, headers: {}, body: '' }
  const [statusLine = '', ...headerLines] = bytes.subarray(0, headEnd).toString('latin1').split('\r\n')
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0)
  const headers: Record<string, string> = {}
  for (const line of headerLines) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  let rest = bytes.subarray(headEnd + 4)
  if (headers['transfer-encoding'] === 'chunked') rest = dechunk(rest)
  else if (headers['content-length'] !== undefined) rest = rest.subarray(0, Number(headers['content-length']))
  return { status, headers, body: rest.toString('utf8') }
}

function dechunk(bytes: Buffer): Buffer {
  const parts: Buffer[] = []
  let at = 0
  while (at < bytes.length) {
    const lineEnd = bytes.indexOf('\r\n', at)
    if (lineEnd < 0) break
    const size = parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16)
    if (!(size > 0)) break
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size))
    at = lineEnd + 2 + size + 2
  }
  return Buffer.concat(parts)
}

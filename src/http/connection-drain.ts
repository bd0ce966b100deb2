import type { Server } from 'node:http'
import type { Socket } from 'node:net'

/**
 * Counts the requests in flight on each connection, so that a shutdown can close at once every connection
 * with nothing in flight (Node's closeIdleConnections misses a socket on which no request has started, and
 * the server would wait out the whole grace period for it) and each busy one as soon as its response ends.
 */
export function trackConnections(server: Server): { closeIdle(): void } {
  const inFlight = new Map<Socket, number>()
  let closing = false
  server.on('connection', (socket: Socket) => {
    inFlight.set(socket, 0)
    socket.once('close', () => inFlight.delete(socket))
  })
  server.on('request', (request, response) => {
    const socket = request.socket
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1)
    response.once('close', () => {
      // A client that went away closes its socket first: it is gone from the map and must stay gone.
      const requests = inFlight.get(socket)
      if (requests === undefined) return
      const left = requests - 1
      inFlight.set(socket, left)
      // end(), not destroy(): the response's last bytes may still be on their way out.
      if (closing && left === 0) socket.end()
    })
  })
  return {
    closeIdle() {
      closing = true
      for (const [socket, requests] of inFlight) if (requests === 0) socket.destroy()
    },
  }
}

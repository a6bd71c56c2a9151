import type { Server } from 'node:http'
import type { Socket } from 'node:net'
import { RawConnection } from './connection.js'
import type { RawHandler, RawHost } from './contract.js'

/**
 * Puts the reader in front of `server`'s own `connection` listeners: each new connection is read
 * by connection.ts while `handler()` gives a handler, else it is the server's from the start.
 * The server's `closeIdleConnections` and `closeAllConnections` (which `close()` and fastify
 * call) close the connections read here too. Call it once, before the server listens.
 */
export const readRaw = (server: Server, handler: () => RawHandler | undefined): void => {
  const nodeListeners = server.listeners('connection') as Array<(socket: Socket) => void>
  const host: RawHost = {
    server,
    handler,
    toNode: (socket) => {
      for (const listener of nodeListeners) listener.call(server, socket)
    },
  }
  const live = new Set<RawConnection>()
  server.removeAllListeners('connection')
  server.on('connection', (socket: Socket) => {
    if (handler() === undefined) host.toNode(socket)
    else new RawConnection(socket, host, live)
  })
  const closeIdle = server.closeIdleConnections.bind(server)
  const closeAll = server.closeAllConnections.bind(server)
  server.closeIdleConnections = () => {
    closeIdle()
    for (const c of live) c.closeIdle()
  }
  server.closeAllConnections = () => {
    closeAll()
    for (const c of live) c.socket.destroy()
  }
}

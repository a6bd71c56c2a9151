/**
 * A server of fastPathServer's answering forward-auth from the socket with the stand-in fast
 * handler, in a child process of its own, so that its resident memory is its own. The code is the
 * checkout's given as the first argument (default: this one), so that the same measure runs on
 * another commit. Messages from the parent: `{ flood: bytes }`: the next connection is watched,
 * its reads reported (`{ read }`), and `{ stopped }` sent once its server side is paused with
 * written answers the kernel has not taken, or once it has read `bytes`; `{ stats: true }`:
 * answered with `{ stats }`.
 */
import type { Server, ServerOptions } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

const root = resolve(process.argv[2] ?? new URL('../..', import.meta.url).pathname)
const from = (path: string) => pathToFileURL(resolve(root, path)).href
const { fastPathServer } = (await import(from('src/authorizer/fast-path.ts'))) as typeof import('../../src/authorizer/fast-path.js')
const { standInFastPath, allow } = (await import(from('test/support/stand-in-fast-path.ts'))) as typeof import('./stand-in-fast-path.js')

/** The child's resident set and, once there is one, the watched connection's server side. */
export interface Stats {
  readonly rss: number
  readonly bytesRead: number
  readonly paused: boolean
  readonly writableLength: number
}
export type ChildMessage = { readonly port: number } | { readonly read: number } | { readonly stopped: Stats } | { readonly stats: Stats }

const send = (m: ChildMessage) => process.send?.(m)
const { serverFactory, install } = fastPathServer()
install(standInFastPath(() => allow('blt-uid')).fast)
const server = (serverFactory as unknown as (handler: () => void, opts: ServerOptions & Record<string, number>) => Server)(() => {}, {
  keepAliveTimeout: 72_000,
  requestTimeout: 0,
  connectionTimeout: 0,
  maxRequestsPerSocket: 0,
})

let flood: number | undefined
let watched: Socket | undefined
const stats = (): Stats => ({
  rss: process.memoryUsage().rss,
  bytesRead: watched?.bytesRead ?? 0,
  paused: watched?.isPaused() ?? false,
  writableLength: watched?.writableLength ?? 0,
})
server.on('connection', (socket: Socket) => {
  if (flood === undefined) return
  const bytes = flood
  flood = undefined
  watched = socket
  let stopped = false
  const stop = () => {
    if (!stopped) send({ stopped: stats() })
    stopped = true
  }
  // Stopped: paused after a write past the highWaterMark that the kernel did not take whole.
  const write = socket.write.bind(socket) as (text: string) => boolean
  socket.write = ((text: string) => {
    const ok = write(text)
    if (!ok)
      setImmediate(() => {
        if (socket.isPaused() && socket.writableLength > 0) stop()
      })
    return ok
  }) as typeof socket.write
  // After the raw path's listener: what it read is answered.
  socket.on('data', () => {
    send({ read: socket.bytesRead })
    if (socket.bytesRead >= bytes) stop()
  })
})
process.on('message', (m: { flood?: number; stats?: true }) => {
  if (m.flood !== undefined) flood = m.flood
  if (m.stats) send({ stats: stats() })
})
// Exits, rather than being killed, so that coverage is written.
process.on('disconnect', () => process.exit(0))
server.listen(0, '127.0.0.1', () => send({ port: (server.address() as AddressInfo).port }))

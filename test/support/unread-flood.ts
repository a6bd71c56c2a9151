/**
 * A client that pipelines forward-auth requests and never reads the answers, against the raw
 * path in a child process (raw-server-child.ts). Each batch of requests is sent once the server
 * has read the one before, as a proxy's requests come, so that every read holds whole requests
 * and the raw path keeps the connection; once the server stops reading, the rest is sent at once.
 * For the backpressure test and bench/backpressure.ts (which runs it on another checkout too).
 */
import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'
import { connect } from 'node:net'
import type { ChildMessage, Stats } from './raw-server-child.js'
import { exchange, requestText } from './raw-http.js'
import { plainEnv } from './plain-env.js'

export interface Flood {
  readonly sent: number
  /** The child's resident set after a first connection was answered, before the flood. */
  readonly baseline: number
  /** When the server side stopped reading (or read everything). */
  readonly stopped: Stats
  /** Once the rest was handed to the client's socket (a message's round trip later). */
  readonly end: Stats
}

type Keyed<K extends string> = Extract<ChildMessage, Record<K, unknown>>
const next = <K extends string>(child: ChildProcess, key: K): Promise<Keyed<K>> =>
  new Promise((resolve, reject) => {
    const onMessage = (m: ChildMessage) => {
      if (!(key in m)) return
      child.off('message', onMessage)
      child.off('exit', onExit)
      resolve(m as Keyed<K>)
    }
    const onExit = (code: number | null) => reject(new Error(`the server's child exited (${code})`))
    child.on('message', onMessage)
    child.once('exit', onExit)
  })

/** Sends about `bytes` of pipelined requests on one connection, reading none of the answers. */
export const floodWithoutReading = async (bytes: number, root?: string): Promise<Flood> => {
  const child = fork(new URL('./raw-server-child.ts', import.meta.url).pathname, root === undefined ? [] : [root], {
    execArgv: ['--import', 'tsx'],
    env: plainEnv(),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  try {
    const { port } = await next(child, 'port')
    const ask = requestText('GET', '/v3/authorize')
    // Warm: code compiled, buffers allocated, before the baseline.
    await exchange(port, [ask.repeat(2000)])
    child.send({ stats: true })
    const { stats: before } = await next(child, 'stats')
    const batch = Buffer.from(ask.repeat(Math.floor(32_768 / ask.length)))
    const batches = Math.max(1, Math.floor(bytes / batch.length))
    child.send({ flood: batches * batch.length })
    const stopped = next(child, 'stopped')
    const client = connect(port, '127.0.0.1')
    client.on('error', () => {})
    await once(client, 'connect')
    // No 'data' listener: the client reads nothing past its own stream's buffer.
    let sent = 1
    const onMessage = (m: ChildMessage) => {
      if ('read' in m && m.read === sent * batch.length && sent < batches) {
        sent += 1
        client.write(batch)
      }
    }
    child.on('message', onMessage)
    client.write(batch)
    const { stopped: at } = await stopped
    child.off('message', onMessage)
    if (sent < batches) client.write(Buffer.concat(Array.from({ length: batches - sent }, () => batch)))
    child.send({ stats: true })
    const { stats: end } = await next(child, 'stats')
    client.destroy()
    return { sent: batches * batch.length, baseline: before.rss, stopped: at, end }
  } finally {
    if (child.connected) child.disconnect()
  }
}

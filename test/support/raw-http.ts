/**
 * An HTTP/1.1 client that sends exactly the bytes it is given: request targets that Node's own
 * client would refuse (spaces, `#`, raw non-ASCII, backslashes) and repeated headers.
 */
import { connect } from 'node:net'

export interface RawResponse {
  readonly status: number
  readonly head: string
}

/** Resolves as soon as the response is complete (by content-length or chunked end), or on close. */
export const rawRequest = (port: number, method: string, target: string, headers: ReadonlyArray<readonly [string, string]>): Promise<RawResponse> =>
  new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let buf = Buffer.alloc(0)
    let done = false
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer to ${method} ${target}`)))
    const finish = () => {
      if (done) return
      done = true
      const text = buf.toString('latin1')
      const head = text.split('\r\n\r\n')[0] ?? ''
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0)
      socket.destroy()
      resolve({ status, head })
    }
    socket.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c])
      const text = buf.toString('latin1')
      const end = text.indexOf('\r\n\r\n')
      if (end === -1) return
      const head = text.slice(0, end)
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0)
      const length = /\r\ncontent-length: *(\d+)/i.exec(head)?.[1]
      const body = buf.length - (end + 4)
      if (method === 'HEAD' || status === 204 || status === 304) finish()
      else if (length !== undefined && body >= Number(length)) finish()
      else if (/\r\ntransfer-encoding: *chunked/i.test(head) && text.endsWith('0\r\n\r\n')) finish()
    })
    socket.on('error', (e) => {
      // A server may reset a connection it refused; what it said before that still counts.
      if (buf.length > 0) finish()
      else if (!done) reject(e)
    })
    socket.on('end', finish)
    socket.on('connect', () => {
      const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', ...headers.map(([k, v]) => `${k}: ${v}`), 'Connection: close', '', '']
      socket.write(Buffer.from(lines.join('\r\n'), 'utf8'))
    })
  })

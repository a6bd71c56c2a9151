/**
 * An HTTP/1.1 client that sends exactly the bytes it is given: request targets that Node's own
 * client would refuse (spaces, `#`, raw non-ASCII, backslashes) and repeated headers.
 */
import { connect, type Socket } from 'node:net'

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

/** One response as read off the wire. */
export interface WireResponse {
  readonly status: number
  /** The head's lines after the status line, as sent. */
  readonly lines: readonly string[]
  /** Header names lower-cased; a repeated header's values joined with ", ". */
  readonly headers: Record<string, string>
  readonly body: string
  /** The whole response, as sent. */
  readonly text: string
}

/** The responses in `text`, in order, framed by content-length (every answer here has one; HEAD's has no body). */
export const responsesIn = (text: string, methods: readonly string[] = []): WireResponse[] => {
  const out: WireResponse[] = []
  let at = 0
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at)
    if (end < 0) throw new Error(`an incomplete response: ${JSON.stringify(text.slice(at, at + 200))}`)
    const [statusLine = '', ...lines] = text.slice(at, end).split('\r\n')
    const headers: Record<string, string> = {}
    for (const line of lines) {
      const colon = line.indexOf(':')
      const name = line.slice(0, colon).toLowerCase()
      const value = line.slice(colon + 1).trim()
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
    }
    const length = methods[out.length] === 'HEAD' ? 0 : Number(headers['content-length'] ?? 0)
    const body = text.slice(end + 4, end + 4 + length)
    out.push({ status: Number(statusLine.split(' ')[1]), lines, headers, body, text: text.slice(at, end + 4 + length) })
    at = end + 4 + length
  }
  return out
}

/**
 * Sends `chunks` on one connection, each write waiting for the previous to be flushed and a turn
 * of the event loop, ends its side, and resolves with all the server sent once it closed.
 */
export const exchange = (port: number, chunks: ReadonlyArray<string | Buffer>): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const got: Buffer[] = []
    socket.setTimeout(10_000, () => socket.destroy(new Error('no end of the exchange')))
    socket.on('data', (c: Buffer) => got.push(c))
    socket.on('error', reject)
    socket.on('close', () => resolve(Buffer.concat(got).toString('utf8')))
    socket.on('connect', async () => {
      for (const [i, chunk] of chunks.entries()) {
        await new Promise<void>((done) => socket.write(chunk, () => done()))
        if (i < chunks.length - 1) await new Promise((done) => setImmediate(done))
      }
      socket.end()
    })
  })

/**
 * Opens one connection and lets `start` write on it; `onData` sees the socket and how many chunks
 * the server has sent so far. Resolves with all the server sent once the connection closed (the
 * server closed it, or the client's side was ended and the server then closed).
 */
export const untilClosed = (port: number, start: (socket: Socket) => void, onData?: (socket: Socket, received: number) => void): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const got: Buffer[] = []
    socket.on('data', (c: Buffer) => {
      const received = got.push(c)
      onData?.(socket, received)
    })
    socket.on('error', reject)
    socket.on('close', () => resolve(Buffer.concat(got).toString('utf8')))
    start(socket)
  })

/** A request head (and body) as bytes, with `Host` first. */
export const requestText = (method: string, target: string, headers: ReadonlyArray<readonly [string, string]> = [], body = '', version = '1.1'): string =>
  [`${method} ${target} HTTP/${version}`, 'Host: 127.0.0.1', ...headers.map(([k, v]) => `${k}: ${v}`), '', body].join('\r\n')

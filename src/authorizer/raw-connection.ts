/**
 * Forward-auth's raw path: each new connection is read here before Node's HTTP server sees it.
 * Node's server spends most of a forward-auth answer's time on its own request and response
 * objects, their streams and its checks of every header written (bench/authorizer.ts; the
 * README's "Instructions per request"); an auth request needs none of it. So while a connection
 * sends requests in the strict form raw-http.ts reads (what proxies send), and the fast handler
 * takes them, they are answered from here, the answers written as the bytes Node would write.
 *
 * At the first request that is not (incomplete in the bytes received, anything unusual, a
 * request for another route, the app closing), the connection is handed to Node's server for
 * good, with that request's bytes: from then on it is an ordinary connection of fastify's.
 * Answers keep the requests' order: while an answer waits for a promise (Redis counters), later
 * bytes are held, at most 64 KiB. Backpressure as in Node's server: once the written answers the
 * kernel has not taken reach the socket's highWaterMark, the socket is paused, the rest of the
 * bytes read is held, and reading goes on at 'drain', so a client that sends and never reads
 * costs the server a bounded amount of memory.
 */
import { type IncomingHttpHeaders, maxHeaderSize, type Server, STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastHandler, FastRequest, FastResponse } from './fast-path.js'
import { MAX_HEAD_BYTES, parseHead, type RawHead } from './raw-http.js'

const MAX_HELD = 64 * 1024
/** Node's HTTP_SERVER_KEEP_ALIVE_TIMEOUT_BUFFER (lib/_http_server.js). */
const KEEP_ALIVE_BUFFER_MS = 1000

/** The `Date` header, as Node's server caches it: made at most once a second. */
let date: string | undefined
const utcDate = (): string => {
  if (date === undefined) {
    const now = new Date()
    date = now.toUTCString()
    setTimeout(() => {
      date = undefined
    }, 1000 - now.getMilliseconds()).unref()
  }
  return date
}

const statusLines = new Map<number, string>()
const statusLine = (status: number): string => {
  let line = statusLines.get(status)
  if (line === undefined) {
    line = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'unknown'}\r\n`
    statusLines.set(status, line)
  }
  return line
}

/** Header lines as Node would write them: token names, values of tab, space and visible ASCII. */
const HEADER_LINES = /^(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+: [\t\x20-\x7e]*\r\n)*$/

/** As Node's `ERR_INVALID_CHAR`: the answer is refused before anything is written. */
const invalidHeader = (): Error => Object.assign(new TypeError('Invalid character in a header of the answer'), { code: 'ERR_INVALID_CHAR' })

/** A request read from the bytes: what the fast handler reads of Node's `IncomingMessage`. */
class RawRequest implements FastRequest {
  readonly method: string
  readonly url: string
  readonly rawHeaders: string[]
  constructor(
    head: RawHead,
    readonly socket: Socket,
  ) {
    this.method = head.method
    this.url = head.url
    this.rawHeaders = head.rawHeaders
  }
  /** What proxy-addr reads of `req.headers`: `x-forwarded-for`, repeated ones joined as Node joins them. */
  get headers(): IncomingHttpHeaders {
    let xff: string | undefined
    const raw = this.rawHeaders
    for (let i = 0; i < raw.length; i += 2)
      if ((raw[i] as string).length === 15 && (raw[i] as string).toLowerCase() === 'x-forwarded-for') xff = xff === undefined ? (raw[i + 1] as string) : `${xff}, ${raw[i + 1] as string}`
    return xff === undefined ? {} : { 'x-forwarded-for': xff }
  }
}

class RawReply implements FastResponse {
  headersSent = false
  private head = ''
  constructor(
    private readonly conn: RawConnection,
    private readonly bodiless: boolean,
    readonly close: boolean,
  ) {}
  writeHead(status: number, headers: string[]): void {
    let lines = ''
    for (let i = 0; i < headers.length; i += 2) lines += `${headers[i] as string}: ${headers[i + 1] as string}\r\n`
    if (!HEADER_LINES.test(lines)) throw invalidHeader()
    this.head = `${statusLine(status)}${lines}Date: ${utcDate()}\r\n${this.close ? 'Connection: close\r\n' : this.conn.keepAlive}\r\n`
    this.headersSent = true
  }
  end(body?: string): void {
    this.conn.answered(this, this.bodiless || body === undefined ? this.head : this.head + body)
  }
  destroy(): void {
    this.conn.socket.destroy()
  }
}

/** What a raw connection needs of the server it reads for. */
export interface RawHost {
  readonly server: Server
  /** The fast handler now, or undefined (none installed, or the app closing). */
  readonly fast: () => FastHandler | undefined
  /** Gives a connection to Node's own `connection` listeners. */
  readonly toNode: (socket: Socket) => void
  readonly live: Set<RawConnection>
}

export class RawConnection {
  readonly keepAlive: string
  /** Well within the server's `maxHeaderSize`, so a head Node would refuse as too large is Node's. */
  private readonly maxHead: number
  /** The answer being made; after the handler returns, one that waits for a promise. */
  private current: RawReply | undefined = undefined
  private held: Buffer | undefined = undefined
  private out = ''
  private running = false
  /** The client ended its side while an answer waited: end ours once what it sent is answered. */
  private clientEnded = false
  /** The server is closing: close once the answer waited for is written. */
  private closing = false

  constructor(
    readonly socket: Socket,
    private readonly host: RawHost,
  ) {
    const { server } = host
    const seconds = Math.floor(server.keepAliveTimeout / 1000)
    this.keepAlive = server.keepAliveTimeout > 0 ? `Connection: keep-alive\r\nKeep-Alive: timeout=${seconds}\r\n` : 'Connection: keep-alive\r\n'
    this.maxHead = Math.min(MAX_HEAD_BYTES, Math.floor(((server as { maxHeaderSize?: number }).maxHeaderSize ?? maxHeaderSize) / 2))
    host.live.add(this)
    socket.on('data', this.onData)
    socket.on('end', this.onEnd)
    socket.on('error', this.onError)
    socket.on('close', this.onClose)
    socket.on('drain', this.onDrain)
    // Idle as between kept-alive requests (Node adds 1 s, for the client's own timer to fire
    // first), or before the first one: Node's limits for those.
    const idle = server.keepAliveTimeout > 0 ? server.keepAliveTimeout + KEEP_ALIVE_BUFFER_MS : server.headersTimeout
    if (idle > 0) socket.setTimeout(idle, this.onTimeout)
  }

  /** An answer waits for a promise (outside `run`, a reply is current only then). */
  private get waiting(): boolean {
    return this.current !== undefined
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.waiting) this.hold(chunk)
    else this.run(chunk)
  }

  private hold(bytes: Buffer): void {
    this.held = this.held === undefined ? bytes : Buffer.concat([this.held, bytes])
    if (this.held.length > MAX_HELD) this.socket.destroy()
  }

  private readonly onEnd = (): void => {
    if (this.waiting || this.held !== undefined) this.clientEnded = true
    else this.socket.end()
  }

  private readonly onError = (): void => {
    this.socket.destroy()
  }

  private readonly onTimeout = (): void => {
    this.socket.destroy()
  }

  private readonly onClose = (): void => {
    this.host.live.delete(this)
  }

  private readonly onDrain = (): void => {
    this.proceed()
  }

  /** Answers the requests in `buf` while they are ours; hands the connection over at the first that is not. */
  private run(buf: Buffer): void {
    this.running = true
    let start = 0
    try {
      while (start < buf.length) {
        if (this.out.length + this.socket.writableLength >= this.socket.writableHighWaterMark) {
          this.flush()
          // What the kernel has not taken reaches the highWaterMark: the rest waits for 'drain'.
          if (this.socket.writableNeedDrain) return this.hold(buf.subarray(start))
        }
        const fast = this.host.fast()
        const head = fast === undefined ? undefined : parseHead(buf, start, this.maxHead)
        // A request that asks to close is answered here only as the last bytes sent.
        if (fast === undefined || head === undefined || (head.close && head.end !== buf.length)) return this.handOver(buf, start)
        const reply = new RawReply(this, head.method === 'HEAD', head.close)
        this.current = reply
        if (!fast(new RawRequest(head, this.socket), reply)) {
          this.current = undefined
          return this.handOver(buf, start)
        }
        start = head.end
        if (this.current === reply) {
          // The answer waits for a promise: hold what follows until it is written.
          this.flush()
          if (start < buf.length) this.hold(buf.subarray(start))
          return
        }
        if (head.close) {
          this.flush()
          this.socket.end()
          return
        }
      }
      this.flush()
    } catch {
      /* c8 ignore next 2: the handler answers its own failures; this is the last resort */
      this.socket.destroy()
    } finally {
      this.running = false
    }
  }

  private flush(): void {
    if (this.out.length > 0) {
      this.write(this.out)
      this.out = ''
    }
  }

  /** Written and not taken by the kernel up to the highWaterMark: nothing more is read until 'drain' (proceed). */
  private write(text: string): void {
    if (!this.socket.write(text)) this.socket.pause()
  }

  /** Called by a reply's `end`: in the run that made it, or later, when its promise settled. */
  answered(reply: RawReply, text: string): void {
    if (reply !== this.current) return
    this.current = undefined
    if (this.running) {
      this.out += text
      return
    }
    if (this.socket.destroyed) return
    this.write(text)
    if (reply.close) {
      // The connection ends here: nothing sent after that request is answered.
      this.held = undefined
      this.socket.end()
      return
    }
    this.proceed()
  }

  /**
   * After the answer waited for, or at 'drain' (never while an answer waits: a run stops at the
   * write that fills the socket, before any request): what came meanwhile, run stopping again if
   * the socket is still full; then the client's end (or the server's closing), as Node would take
   * them, or reading again.
   */
  private proceed(): void {
    const held = this.held
    this.held = undefined
    if (held !== undefined) this.run(held)
    if (this.waiting || this.socket.writableNeedDrain || !this.host.live.has(this)) return
    if (this.clientEnded || this.closing) this.socket.end()
    else this.socket.resume()
  }

  /** Server closing: an idle connection is closed now, one waiting for an answer after it. */
  closeIdle(): void {
    if (this.waiting) this.closing = true
    else this.socket.destroy()
  }

  /** From `buf[start]` on, the connection is Node's. */
  private handOver(buf: Buffer, start: number): void {
    this.flush()
    const { socket, host } = this
    host.live.delete(this)
    socket.removeListener('data', this.onData)
    socket.removeListener('end', this.onEnd)
    socket.removeListener('error', this.onError)
    socket.removeListener('close', this.onClose)
    socket.removeListener('drain', this.onDrain)
    socket.setTimeout(0)
    socket.removeListener('timeout', this.onTimeout)
    host.toNode(socket)
    // Node's listener reads the socket from now on; the bytes already read go first, and the
    // client's end if it came while an answer waited.
    if (start < buf.length) socket.emit('data', buf.subarray(start))
    if (this.clientEnded) socket.emit('end')
    // Paused for 'drain' (the bytes read meanwhile flow to Node first, before the next read):
    // Node's server pauses it again itself while its answers are not drained.
    socket.resume()
  }
}

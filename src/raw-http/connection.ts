/**
 * A connection read from its bytes before Node's HTTP server sees it. Node's server spends most
 * of a small answer's time on its own request and response objects, their streams and its checks
 * of every header written; a request in the strict form parse-head.ts reads needs none of it. So
 * while a connection sends requests in that form and the handler takes them, they are answered
 * from here, the answers written as the bytes Node would write (answer.ts).
 *
 * At the first request that is not (incomplete in the bytes received, anything unusual, one the
 * handler leaves, no handler), the connection is handed to Node's server for good, with that
 * request's bytes: from then on it is an ordinary connection of the server's. Answers keep the
 * requests' order: while an answer waits for a promise, later bytes are held, at most 64 KiB.
 * Backpressure as in Node's server: once the written answers the kernel has not taken reach the
 * socket's highWaterMark, the socket is paused, the rest of the bytes read is held, and reading
 * goes on at 'drain', so a client that sends and never reads costs a bounded amount of memory.
 */
import { maxHeaderSize } from 'node:http'
import type { Socket } from 'node:net'
import { HeadRequest, Reply } from './answer.js'
import type { RawHost } from './contract.js'
import { MAX_HEAD_BYTES, parseHead } from './parse-head.js'

const MAX_HELD = 64 * 1024
/** Node's HTTP_SERVER_KEEP_ALIVE_TIMEOUT_BUFFER (lib/_http_server.js). */
const KEEP_ALIVE_BUFFER_MS = 1000

export class RawConnection {
  readonly keepAlive: string
  /** Well within the server's `maxHeaderSize`, so a head Node would refuse as too large is Node's. */
  private readonly maxHead: number
  /** The answer being made; after the handler returns, one that waits for a promise. */
  private current: Reply | undefined = undefined
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
    /** The server's connections read here, closed with its own. */
    private readonly live: Set<RawConnection>,
  ) {
    const { server } = host
    const seconds = Math.floor(server.keepAliveTimeout / 1000)
    this.keepAlive = server.keepAliveTimeout > 0 ? `Connection: keep-alive\r\nKeep-Alive: timeout=${seconds}\r\n` : 'Connection: keep-alive\r\n'
    this.maxHead = Math.min(MAX_HEAD_BYTES, Math.floor(((server as { maxHeaderSize?: number }).maxHeaderSize ?? maxHeaderSize) / 2))
    live.add(this)
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
    this.live.delete(this)
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
        const handler = this.host.handler()
        const head = handler === undefined ? undefined : parseHead(buf, start, this.maxHead)
        // A request that asks to close is answered here only as the last bytes sent.
        if (handler === undefined || head === undefined || (head.close && head.end !== buf.length)) return this.handOver(buf, start)
        const reply = new Reply(this, head.method === 'HEAD', head.close)
        this.current = reply
        if (!handler(new HeadRequest(head, this.socket), reply)) {
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
      // A handler answers its own failures; one that throws leaves nothing that can be said here.
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
  answered(reply: Reply, text: string): void {
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
    if (this.waiting || this.socket.writableNeedDrain || !this.live.has(this)) return
    if (this.clientEnded || this.closing) this.socket.end()
    else this.socket.resume()
  }

  /** Server closing: an idle connection is closed now, one waiting for an answer after it. */
  closeIdle(): void {
    if (this.waiting) this.closing = true
    else this.socket.destroy()
  }

  /**
   * From `buf[start]` on, the connection is Node's. Node's parser has consumed nothing of this
   * socket yet (its listener attaches the parser now), so the bytes read here and not answered
   * go back to the front of the socket's readable stream (`unshift`), ahead of any it read while
   * paused: the parser reads them first, in their order, as if it had read them from the kernel.
   * A stream takes nothing back once it has emitted 'end' (the client's end came while an answer
   * waited): then Node's listeners are given the bytes and the end as the stream would have
   * given them, as events.
   */
  private handOver(buf: Buffer, start: number): void {
    this.flush()
    const { socket, host } = this
    this.live.delete(this)
    socket.removeListener('data', this.onData)
    socket.removeListener('end', this.onEnd)
    socket.removeListener('error', this.onError)
    socket.removeListener('close', this.onClose)
    socket.removeListener('drain', this.onDrain)
    socket.setTimeout(0)
    socket.removeListener('timeout', this.onTimeout)
    host.toNode(socket)
    const rest = buf.subarray(start)
    if (!this.clientEnded) socket.unshift(rest)
    else {
      socket.emit('data', rest)
      socket.emit('end')
    }
    // Paused for 'drain': Node's server pauses it again itself while its answers are not drained.
    socket.resume()
  }
}

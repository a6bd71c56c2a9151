/**
 * What the connection reader (connection.ts) and the code that answers requests agree on. The
 * reader knows nothing of what a request means: it reads heads, offers each request to a handler
 * and writes what the handler answers. Node's own `IncomingMessage` and `ServerResponse` fit these
 * shapes too, so one handler can also answer the requests Node's server reads (a connection
 * handed over).
 */
import type { IncomingHttpHeaders, Server } from 'node:http'
import type { Socket } from 'node:net'

/** A request as the reader hands it over: what a handler may read of Node's `IncomingMessage`. */
export interface RawRequest {
  readonly method?: string | undefined
  /** The request target exactly as sent, as Node's `req.url`. */
  readonly url?: string | undefined
  /** `[name, value, ...]` as sent, as Node's `req.rawHeaders`. */
  readonly rawHeaders: string[]
  readonly socket: { readonly remoteAddress?: string | undefined }
  /**
   * From the reader: `x-forwarded-for` only (repeated ones joined as Node joins them), what
   * proxy-addr reads to find the client's address. Every other header is in `rawHeaders`.
   */
  readonly headers: IncomingHttpHeaders
}

/** An answer as the reader writes it: what a handler may call of Node's `ServerResponse`. */
export interface RawResponse {
  readonly headersSent: boolean
  /**
   * `[name, value, ...]`; the reader adds `Date`, `Connection` and `Keep-Alive` as Node does, and
   * throws `ERR_INVALID_CHAR` (nothing written) for a line Node would refuse.
   */
  writeHead(status: number, headers: string[]): unknown
  /** Ends the answer, now or once a promise settles: answers are written in the requests' order. */
  end(body?: string): unknown
  destroy(): unknown
}

/**
 * Answers a request (now, or later through `res.end`) and returns true, or returns false without
 * touching `res`: then that request and the rest of its connection are Node's server's.
 */
export type RawHandler = (req: RawRequest, res: RawResponse) => boolean

/** The server the reader reads for, and falls back to. */
export interface RawHost {
  /** Its limits are the reader's: keep-alive and header timeouts, `maxHeaderSize`. */
  readonly server: Server
  /** The handler now, or undefined (none yet, or the server closing): the connection is then Node's. */
  readonly handler: () => RawHandler | undefined
  /** Gives a connection to the server's own `connection` listeners (Node's HTTP parser). */
  readonly toNode: (socket: Socket) => void
}

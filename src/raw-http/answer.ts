/**
 * The request a handler is given for a head read from the bytes, and the reply it writes: the
 * answer's bytes made as Node's server would make them (status line, the handler's headers,
 * `Date`, `Connection`, `Keep-Alive`), handed to the connection in one string.
 */
import { type IncomingHttpHeaders, STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { RawRequest, RawResponse } from './contract.js'
import type { RawHead } from './parse-head.js'

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

/** A request read from the bytes. */
export class HeadRequest implements RawRequest {
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
  get headers(): IncomingHttpHeaders {
    let xff: string | undefined
    const raw = this.rawHeaders
    for (let i = 0; i < raw.length; i += 2)
      if ((raw[i] as string).length === 15 && (raw[i] as string).toLowerCase() === 'x-forwarded-for') xff = xff === undefined ? (raw[i + 1] as string) : `${xff}, ${raw[i + 1] as string}`
    return xff === undefined ? {} : { 'x-forwarded-for': xff }
  }
}

/** What a reply needs of its connection. */
export interface ReplyTarget {
  readonly socket: Socket
  /** The `Connection` lines of a kept-alive answer, as the server announces its timeout. */
  readonly keepAlive: string
  /** Takes the reply's bytes, in the requests' order. */
  answered(reply: Reply, text: string): void
}

export class Reply implements RawResponse {
  headersSent = false
  private head = ''
  constructor(
    private readonly conn: ReplyTarget,
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

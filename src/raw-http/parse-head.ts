/**
 * A request head read straight from the socket's bytes, for the connection reader
 * (connection.ts). It reads only a strict subset of HTTP/1.1 (RFC 9112), the form proxies
 * send their auth requests in, and gives up on everything else: then Node's own parser (llhttp)
 * reads the same bytes, so every request it reads is read as Node would have read it, or not at
 * all. Giving up is always safe; reading a request differently from Node is not (a proxy and this
 * service must agree on where a request ends and what it says), so each rule below is narrower
 * than llhttp's, and test/raw-http/parse-head.test.ts checks the two against each other.
 *
 * Read: `GET`, `HEAD`, `POST`, `PUT`, `PATCH`, `DELETE` and `OPTIONS` (all bodiless, below); an
 * origin-form target of RFC 3986 characters (no `#`, no space, nothing above 0x7E); `HTTP/1.1`,
 * or `HTTP/1.0` asking to close; header lines `name: value` with a token name, spaces only
 * before the value, a value of visible ASCII with single inner spaces (no tab, no trailing space,
 * not empty); exactly one `Host`; no body (no `Transfer-Encoding`, no `Content-Length` but a
 * single `0`); no `Expect`, no `Upgrade`, no `Proxy-Connection` (llhttp reads it as
 * `Connection`); at most one `Connection`, `keep-alive` or `close`; at most 100 header lines, the
 * head within 8 KiB and whole in the bytes given. CRLF everywhere: a bare CR or LF, a folded
 * line, anything else gives up.
 */

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1')

/** The head's bytes, request line to the blank line. Node allows 16 KiB by default. */
export const MAX_HEAD_BYTES = 8 * 1024
const MAX_HEADER_LINES = 100

export interface RawHead {
  readonly method: string
  /** The request target exactly as sent, as Node's `req.url`. */
  readonly url: string
  /** `[name, value, ...]` as Node's `req.rawHeaders`. */
  readonly rawHeaders: string[]
  /** Where the next request starts: no body follows this one. */
  readonly end: number
  /** The client asked to close the connection after the answer. */
  readonly close: boolean
}

const table = (chars: string): Uint8Array => {
  const t = new Uint8Array(128)
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1
  return t
}
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
/** RFC 9110 tchar. */
const TCHAR = table(`${ALNUM}!#$%&'*+-.^_\`|~`)
/** RFC 3986 unreserved, sub-delims, ':', '@', '/', '?' and '%': what a path and query are made of. */
const TARGET = table(`${ALNUM}-._~!$&'()*+,;=:@/?%`)

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])
const HTTP11 = ' HTTP/1.1\r\n'
const HTTP10 = ' HTTP/1.0\r\n'

/** The names (lower-cased) that change how a request is framed or answered. */
const HOST = 'host'
const FRAMING_LENGTHS = new Set([4, 6, 7, 10, 14, 16, 17])

/**
 * The request head starting at `start`, or undefined: not whole in `buf` within `maxBytes`, or
 * not in the subset above. Never throws.
 */
export const parseHead = (buf: Buffer, start: number, maxBytes = MAX_HEAD_BYTES): RawHead | undefined => {
  const blank = buf.indexOf(CRLFCRLF, start)
  if (blank < 0 || blank - start > maxBytes) return undefined
  // Every line of `s` ends with CRLF, and only the head's last line is followed by another.
  const s = buf.toString('latin1', start, blank + 2)
  const len = s.length

  const sp = s.indexOf(' ')
  if (sp < 3 || sp > 7) return undefined
  const method = s.slice(0, sp)
  if (!METHODS.has(method)) return undefined
  let i = sp + 1
  if (s.charCodeAt(i) !== 0x2f) return undefined // origin-form: '/'
  for (; i < len; i++) {
    const c = s.charCodeAt(i)
    if (c >= 128 || TARGET[c] === 0) break
  }
  const url = s.slice(sp + 1, i)
  let close: boolean
  if (s.startsWith(HTTP11, i)) close = false
  else if (s.startsWith(HTTP10, i)) close = true
  else return undefined
  i += HTTP11.length

  const rawHeaders: string[] = []
  let hosts = 0
  let lengths = 0
  let connection: string | undefined
  while (i < len) {
    if (rawHeaders.length === 2 * MAX_HEADER_LINES) return undefined
    const nameStart = i
    for (; i < len; i++) {
      const c = s.charCodeAt(i)
      if (c >= 128 || TCHAR[c] === 0) break
    }
    if (i === nameStart || s.charCodeAt(i) !== 0x3a) return undefined // a name, then ':' at once
    const name = s.slice(nameStart, i)
    i++
    while (s.charCodeAt(i) === 0x20) i++
    const valueStart = i
    for (; i < len; i++) {
      const c = s.charCodeAt(i)
      if (c > 0x20 && c < 0x7f) continue
      if (c === 0x20 && s.charCodeAt(i - 1) !== 0x20) continue
      break
    }
    // The value ends at CRLF, after a visible character.
    if (i === valueStart || s.charCodeAt(i) !== 0x0d || s.charCodeAt(i + 1) !== 0x0a || s.charCodeAt(i - 1) === 0x20) return undefined
    const value = s.slice(valueStart, i)
    i += 2
    if (FRAMING_LENGTHS.has(name.length)) {
      const lower = name.toLowerCase()
      if (lower === HOST) hosts++
      else if (lower === 'content-length') {
        if (value !== '0' || ++lengths > 1) return undefined
      } else if (lower === 'connection') {
        if (connection !== undefined) return undefined
        connection = value.toLowerCase()
      } else if (lower === 'transfer-encoding' || lower === 'expect' || lower === 'upgrade' || lower === 'proxy-connection') return undefined
    }
    rawHeaders.push(name, value)
  }
  if (hosts !== 1) return undefined
  if (connection === 'close') close = true
  else if (connection === 'keep-alive') {
    if (close) return undefined // HTTP/1.0 keep-alive: Node's
  } else if (connection !== undefined) return undefined
  return { method, url, rawHeaders, end: blank + 4, close }
}

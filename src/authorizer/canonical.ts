/**
 * The canonical request: the one form of the original request that every surface decides on and acts on.
 *
 * A proxy, a gateway and an upstream router each parse a request target in their own way: one
 * decodes `%77orkflows` and another does not, Express matches `/V3/Stacks/Share` case-blind,
 * Tomcat drops `;x` from a segment, WHATWG URL parsing (and so a proxy built on it) drops a
 * fragment and reads `\` as `/`. So the target is reduced to a form that every one of them reads
 * the same way, or refused: unreserved characters (RFC 3986 section 2.3) are percent-decoded once,
 * one trailing slash is dropped, and anything else that could be read two ways (another
 * percent-encoding, `\`, `;`, a fragment, dot or empty segments, upper case, control, space or
 * non-ASCII characters) is denied with the reason. Like Envoy's `path_with_escaped_slashes_action:
 * REJECT_REQUEST`, nothing is guessed. The query is kept as sent (it selects no route), but a
 * `_method` parameter, which some frameworks read as the method, is refused.
 */

/** What a management token may send: GET and HEAD (read), POST, PUT, PATCH and DELETE (write); anything else is refused. */
export const TOKEN_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const
export const METHODS: ReadonlySet<string> = new Set(TOKEN_METHODS)
/**
 * The methods the authorizer's own routes take for a decision (forward-auth's Envoy check, the
 * gateway's proxy): a token's, and OPTIONS, which is then refused with its reason, not a 404.
 */
export const DECIDED_METHODS = [...TOKEN_METHODS, 'OPTIONS'] as const

export interface CanonicalTarget {
  /** Decoded, lower case, no trailing slash (but `/` itself), no dot or empty segments. */
  readonly path: string
  /** `''` or `?...` as sent. */
  readonly query: string
}

/** Why a request description was refused, and which input was at fault. */
export interface Refusal {
  /** The message, saying why. */
  readonly refused: string
  /** The input at fault (`path`, `uri`, `method` or a header name) and what is wrong with it. */
  readonly field: string
  readonly problem: string
}

export const isRefusal = (x: object): x is Refusal => 'refused' in x

export const refuse = (refused: string, field: string, problem: string): Refusal => ({ refused, field, problem })
const ambiguous = (refused: string, field = 'path') => refuse(refused, field, 'could be read two ways')

const MAX_TARGET = 4096

/** RFC 3986 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~". */
const isUnreserved = (c: number) =>
  (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e

/** Characters a path may hold as they are: lower-case unreserved, `/`, `:`, `@` and sub-delims but `;`. */
const PATH_CHAR = new Uint8Array(128)
for (const ch of 'abcdefghijklmnopqrstuvwxyz0123456789-._~/:@!$&\'()*+,=') PATH_CHAR[ch.charCodeAt(0)] = 1

const hexValue = (c: number) =>
  c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1

const describe = (c: number) =>
  c < 0x20 || c === 0x7f ? 'a control character' : c === 0x20 ? 'a space' : c > 0x7f ? 'a non-ASCII character' : `"${String.fromCharCode(c)}"`

/** Why a path character cannot stay, or undefined when it can. */
const charProblem = (c: number): string | undefined => {
  if (c < 0x80 && PATH_CHAR[c] === 1) return undefined
  if (c >= 0x41 && c <= 0x5a) return 'has upper case (routers differ on case); send it in lower case'
  if (c === 0x5c) return 'has a backslash, which some parsers read as "/"'
  if (c === 0x3b) return 'has ";" (a matrix parameter, which some servers strip from the segment)'
  if (c === 0x23) return 'has a fragment ("#"), which proxies drop before forwarding'
  return `has ${describe(c)}`
}

const queryProblem = (query: string): string | undefined => {
  for (let i = 1; i < query.length; i++) {
    const c = query.charCodeAt(i)
    if (c <= 0x20 || c >= 0x7f) return `The query has ${describe(c)}.`
    if (c === 0x23) return 'The URI has a fragment ("#"), which proxies drop before forwarding.'
  }
  // `_method=DELETE` is a method override in several frameworks.
  if (/(?:^\?|&)_method(?:=|&|$)/i.test(query)) return 'The query sets "_method", which some frameworks read as the method.'
  return undefined
}

/**
 * The canonical form of a request target (path and query, origin-form), or why it is refused.
 * Pure: the same target always gives the same answer.
 */
export const canonicalTarget = (raw: string): CanonicalTarget | Refusal => {
  if (raw.length === 0) return refuse('The original URI is missing.', 'uri', 'is required')
  if (raw.length > MAX_TARGET) return refuse(`The URI is longer than ${MAX_TARGET} characters.`, 'uri', 'is too long')
  if (raw.charCodeAt(0) !== 0x2f) return refuse('The URI must be a path starting with "/".', 'uri', 'must start with "/"')
  const q = raw.indexOf('?')
  const end = q === -1 ? raw.length : q
  let path = ''
  let from = 0
  for (let i = 0; i < end; i++) {
    const c = raw.charCodeAt(i)
    if (c === 0x25 /* % */) {
      const hi = i + 2 < end ? hexValue(raw.charCodeAt(i + 1)) : -1
      const lo = hi === -1 ? -1 : hexValue(raw.charCodeAt(i + 2))
      if (lo === -1) return ambiguous('The path has a "%" that is not a percent-encoding.')
      const decoded = hi * 16 + lo
      if (!isUnreserved(decoded))
        return ambiguous(`The path has ${raw.slice(i, i + 3)}, an encoded ${describe(decoded)} that servers decode differently.`)
      const problem = charProblem(decoded)
      if (problem) return ambiguous(`The path ${problem} (encoded as ${raw.slice(i, i + 3)}).`)
      path += raw.slice(from, i) + String.fromCharCode(decoded)
      i += 2
      from = i + 1
      continue
    }
    const problem = charProblem(c)
    if (problem) return ambiguous(`The path ${problem}.`)
  }
  path += raw.slice(from, end)
  if (path.length > 1 && path.charCodeAt(path.length - 1) === 0x2f) path = path.slice(0, -1)
  if (path.length > 1) {
    let start = 1
    for (let i = 1; i <= path.length; i++) {
      if (i < path.length && path.charCodeAt(i) !== 0x2f) continue
      const len = i - start
      if (len === 0) return ambiguous('The path has an empty segment ("//").')
      if ((len === 1 && path.charCodeAt(start) === 0x2e) || (len === 2 && path.charCodeAt(start) === 0x2e && path.charCodeAt(start + 1) === 0x2e))
        return ambiguous('The path has a "." or ".." segment.')
      start = i + 1
    }
  }
  const query = q === -1 ? '' : raw.slice(q)
  const problem = query.length > 0 ? queryProblem(query) : undefined
  if (problem) return ambiguous(problem, 'uri')
  return { path, query }
}

/** The method upper-cased, or why it is refused (missing, or not one a token may send). */
export const canonicalMethod = (method: string | undefined): string | Refusal => {
  if (method === undefined || method.length === 0) return refuse('The original method is missing.', 'method', 'is required')
  const m = METHODS.has(method) ? method : method.toUpperCase()
  return METHODS.has(m) ? m : refuse(`Management tokens cannot send ${m.length > 20 ? `${m.slice(0, 20)}...` : m} requests.`, 'method', 'is not allowed')
}

/**
 * Which headers describe the request a proxy asks about, and which it may not.
 *
 * A proxy copies the client's own headers into its auth request (nginx `auth_request` passes
 * them all; Traefik ForwardAuth too, unless `authRequestHeaders` narrows them), and sets only
 * its own pair. So a header set the proxy in front does not own is the client's to choose, and
 * an answer may never depend on which set is read first: with `FORWARD_AUTH_PROXY=any` every set
 * present must be complete and agree with the others; a pinned proxy reads its own set only.
 * Repeated origin or credential headers are refused outright, because Node keeps the first
 * `authorization` and joins the others with ", ", while an upstream may read the last.
 */
import { type Refusal, refuse } from './canonical.js'

export const FORWARD_AUTH_PROXIES = ['any', 'traefik', 'nginx', 'envoy'] as const
export type ForwardAuthProxy = (typeof FORWARD_AUTH_PROXIES)[number]

/** The original method and URI as the proxy described them (not yet canonical). */
export interface Described {
  readonly method: string
  readonly uri: string
}

const TRAEFIK = { method: 'x-forwarded-method', uri: 'x-forwarded-uri', name: 'Traefik' } as const
const NGINX = { method: 'x-original-method', uri: 'x-original-uri', name: 'nginx' } as const
type HeaderSet = typeof TRAEFIK | typeof NGINX

/** The headers a decision reads, by number; the first seven may appear at most once (a bit each). */
const API_KEY = 0
const AUTHORIZATION = 1
const BRANCH = 2
const FORWARDED_METHOD = 3
const FORWARDED_URI = 4
const ORIGINAL_METHOD = 5
const ORIGINAL_URI = 6
const REQUEST_ID = 7
const CONTENT_LENGTH = 8
const TRANSFER_ENCODING = 9
/** Headers several frameworks read as the method instead of the request line's. */
const OVERRIDE = 10
const NAMES: ReadonlyArray<readonly [string, number]> = [
  ['api_key', API_KEY],
  ['authorization', AUTHORIZATION],
  ['branch', BRANCH],
  [TRAEFIK.method, FORWARDED_METHOD],
  [TRAEFIK.uri, FORWARDED_URI],
  [NGINX.method, ORIGINAL_METHOD],
  [NGINX.uri, ORIGINAL_URI],
  ['x-request-id', REQUEST_ID],
  ['content-length', CONTENT_LENGTH],
  ['transfer-encoding', TRANSFER_ENCODING],
  ['x-http-method-override', OVERRIDE],
  ['x-http-method', OVERRIDE],
  ['x-method-override', OVERRIDE],
]
const ID = new Map<string, number>(NAMES)
/** The spellings clients and proxies send (`Authorization`, `X-Original-URI`), so most names need no lower-casing. */
const SPELLED = new Map<string, number>(ID)
for (const [name, id] of NAMES) {
  const title = name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase())
  SPELLED.set(title, id)
  SPELLED.set(title.replace(/-Uri$/, '-URI').replace(/-Id$/, '-ID'), id)
}
/** Which name lengths can be one of ours: every other header is skipped on its length alone. */
const WATCHED = new Uint8Array(32)
for (const [name] of NAMES) WATCHED[name.length] = 1

/**
 * A request's headers as a decision reads them, from one pass over Node's raw list: a repeated
 * single header or a method override header (`problem`, the first in the order sent), the values
 * sent once, and whether a body follows. Node builds `req.headers` only when it is first read,
 * and the forward-auth fast path never reads it; fastify surfaces use the same scan, so every
 * surface reads a request alike.
 */
export class ScannedHeaders {
  apiKey: string | undefined = undefined
  authorization: string | undefined = undefined
  branch: string | undefined = undefined
  forwardedMethod: string | undefined = undefined
  forwardedUri: string | undefined = undefined
  originalMethod: string | undefined = undefined
  originalUri: string | undefined = undefined
  /** `x-request-id` when sent once (Node joins a repeated one with ", ", which no id may contain). */
  requestId: string | undefined = undefined
  /** A content-length other than 0, or a transfer-encoding: a body follows. */
  body = false
  problem: Refusal | undefined = undefined
}

const repeated = (name: string) => refuse(`The ${name} header is repeated; send it once.`, name, 'is repeated')
const overriding = (name: string) => refuse(`The ${name} header is not accepted: an upstream could read it as the method.`, name, 'is not accepted')

export const scanHeaders = (raw: readonly string[]): ScannedHeaders => {
  const s = new ScannedHeaders()
  let seen = 0
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string
    if (name.length >= WATCHED.length || WATCHED[name.length] === 0) continue
    const id = SPELLED.get(name) ?? ID.get(name.toLowerCase())
    if (id === undefined) continue
    const value = raw[i + 1] as string
    if (id <= REQUEST_ID) {
      const bit = 1 << id
      if ((seen & bit) !== 0) {
        if (id === REQUEST_ID) s.requestId = undefined
        else s.problem ??= repeated(name.toLowerCase())
        continue
      }
      seen |= bit
    }
    switch (id) {
      case API_KEY:
        s.apiKey = value
        break
      case AUTHORIZATION:
        s.authorization = value
        break
      case BRANCH:
        s.branch = value
        break
      case FORWARDED_METHOD:
        s.forwardedMethod = value
        break
      case FORWARDED_URI:
        s.forwardedUri = value
        break
      case ORIGINAL_METHOD:
        s.originalMethod = value
        break
      case ORIGINAL_URI:
        s.originalUri = value
        break
      case REQUEST_ID:
        s.requestId = value
        break
      case CONTENT_LENGTH:
        if (value !== '0') s.body = true
        break
      case TRANSFER_ENCODING:
        s.body = true
        break
      default:
        s.problem ??= overriding(name.toLowerCase())
    }
  }
  return s
}

const setOf = (s: ScannedHeaders, set: HeaderSet) =>
  set === TRAEFIK ? { set, method: s.forwardedMethod, uri: s.forwardedUri } : { set, method: s.originalMethod, uri: s.originalUri }

const complete = (s: ReturnType<typeof setOf>): Described | Refusal => {
  if (s.method === undefined)
    return refuse(`${s.set.method} is missing: ${s.set.name} must send the original method with the URI.`, s.set.method, 'is required')
  if (s.uri === undefined) return refuse(`${s.set.uri} is missing: ${s.set.name} must send the original URI with the method.`, s.set.uri, 'is required')
  return { method: s.method, uri: s.uri }
}

const agree = (a: Described, b: Described) => a.method.toUpperCase() === b.method.toUpperCase() && a.uri === b.uri

/**
 * The request `/v3/authorize` is asked about. With `any`, the Traefik and nginx sets that are
 * present must each be complete and agree; none present is refused (never the auth request's
 * own method: an nginx subrequest is always a GET).
 */
export const describedByHeaders = (req: ScannedHeaders, proxy: ForwardAuthProxy): Described | Refusal => {
  if (req.problem) return req.problem
  switch (proxy) {
    case 'traefik':
      return complete(setOf(req, TRAEFIK))
    case 'nginx':
      return complete(setOf(req, NGINX))
    case 'envoy':
      return refuse('FORWARD_AUTH_PROXY is envoy: ask on the Envoy path prefix /v3/authorize/envoy.', 'path', 'is not the Envoy prefix')
    case 'any': {
      const traefik = setOf(req, TRAEFIK)
      const nginx = setOf(req, NGINX)
      const hasTraefik = traefik.method !== undefined || traefik.uri !== undefined
      const hasNginx = nginx.method !== undefined || nginx.uri !== undefined
      if (!hasTraefik && !hasNginx)
        return refuse(
          'The original request is not described: send X-Forwarded-Method and X-Forwarded-Uri (Traefik) or X-Original-Method and X-Original-URI (nginx).',
          'uri',
          'is required',
        )
      const first = complete(hasTraefik ? traefik : nginx)
      if (!hasTraefik || !hasNginx || 'refused' in first) return first
      const second = complete(nginx)
      if ('refused' in second) return second
      return agree(first, second)
        ? first
        : refuse('The Traefik (X-Forwarded-*) and nginx (X-Original-*) headers describe different requests.', 'uri', 'is described twice, differently')
    }
  }
}

/**
 * The request an Envoy check describes: its own method and the path after the prefix. With
 * `any`, Traefik or nginx headers present must describe the same request.
 */
export const describedByEnvoy = (req: ScannedHeaders, proxy: ForwardAuthProxy, method: string, uri: string): Described | Refusal => {
  if (req.problem) return req.problem
  if (proxy !== 'envoy' && proxy !== 'any')
    return refuse(`FORWARD_AUTH_PROXY is ${proxy}: the Envoy path prefix is not in use.`, 'path', 'is not in use')
  const envoy = { method, uri }
  if (proxy === 'any')
    for (const set of [TRAEFIK, NGINX]) {
      const s = setOf(req, set)
      if (s.method === undefined && s.uri === undefined) continue
      const d = complete(s)
      if ('refused' in d) return d
      if (!agree(d, envoy)) return refuse(`The ${set.name} headers describe another request than the Envoy check.`, 'uri', 'is described twice, differently')
    }
  return envoy
}

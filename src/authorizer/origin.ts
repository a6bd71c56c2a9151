/**
 * SPEC 6.7: which headers describe the request a proxy asks about, and which it may not.
 *
 * A proxy copies the client's own headers into its auth request (nginx `auth_request` passes
 * them all; Traefik ForwardAuth too, unless `authRequestHeaders` narrows them), and sets only
 * its own pair. So a header set the proxy in front does not own is the client's to choose, and
 * an answer may never depend on which set is read first: with `FORWARD_AUTH_PROXY=any` every set
 * present must be complete and agree with the others; a pinned proxy reads its own set only.
 * Repeated origin or credential headers are refused outright, because Node keeps the first
 * `authorization` and joins the others with ", ", while an upstream may read the last.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { type Refusal, refuse } from './canonical.js'

export const FORWARD_AUTH_PROXIES = ['any', 'traefik', 'nginx', 'envoy'] as const
export type ForwardAuthProxy = (typeof FORWARD_AUTH_PROXIES)[number]

/** What a surface knows of a request: Node's joined headers and the raw list as received. */
export interface HeaderSource {
  readonly headers: IncomingHttpHeaders
  readonly rawHeaders: readonly string[]
}

/** The original method and URI as the proxy described them (not yet canonical). */
export interface Described {
  readonly method: string
  readonly uri: string
}

const TRAEFIK = { method: 'x-forwarded-method', uri: 'x-forwarded-uri', name: 'Traefik' } as const
const NGINX = { method: 'x-original-method', uri: 'x-original-uri', name: 'nginx' } as const
type HeaderSet = typeof TRAEFIK | typeof NGINX

/** Headers that may appear at most once, each with its bit in a mask. */
const SINGLE = ['api_key', 'authorization', 'branch', TRAEFIK.method, TRAEFIK.uri, NGINX.method, NGINX.uri]
/** Headers several frameworks read as the method instead of the request line's. */
const OVERRIDES = ['x-http-method-override', 'x-http-method', 'x-method-override']
const BIT = new Map<string, number>([...SINGLE.map((n, i) => [n, 1 << i] as const), ...OVERRIDES.map((n) => [n, 0] as const)])
const WATCHED_LENGTHS = new Set([...BIT.keys()].map((n) => n.length))
/** The spellings proxies send (`X-Forwarded-Uri`, `X-Original-URI`), so most names need no lower-casing. */
const SPELLED = new Map<string, number>(BIT)
for (const [name, bit] of BIT) {
  SPELLED.set(name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase()), bit)
  SPELLED.set(name.replace(/-uri$/, '-URI').replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase()), bit)
}

/**
 * A repeated single header or a method override header, else undefined. One pass over the raw
 * list, allocating nothing for an ordinary request; names are lower-cased only when their length
 * is one of the watched names'.
 */
export const headerProblem = (req: HeaderSource): Refusal | undefined => {
  const raw = req.rawHeaders
  let seen = 0
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string
    if (!WATCHED_LENGTHS.has(name.length)) continue
    const bit = SPELLED.get(name) ?? BIT.get(name.toLowerCase())
    if (bit === undefined) continue
    if (bit === 0) return refuse(`The ${name.toLowerCase()} header is not accepted: an upstream could read it as the method.`, name.toLowerCase(), 'is not accepted')
    if ((seen & bit) !== 0) return refuse(`The ${name.toLowerCase()} header is repeated; send it once.`, name.toLowerCase(), 'is repeated')
    seen |= bit
  }
  return undefined
}

/** A header's value when sent once; a repeated or absent header is undefined. */
export const headerOf = (req: { readonly headers: IncomingHttpHeaders }, name: string): string | undefined => {
  const v = req.headers[name]
  return typeof v === 'string' ? v : undefined
}

const setOf = (req: HeaderSource, set: HeaderSet) => ({ set, method: headerOf(req, set.method), uri: headerOf(req, set.uri) })

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
export const describedByHeaders = (req: HeaderSource, proxy: ForwardAuthProxy): Described | Refusal => {
  const problem = headerProblem(req)
  if (problem) return problem
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
export const describedByEnvoy = (req: HeaderSource, proxy: ForwardAuthProxy, method: string, uri: string): Described | Refusal => {
  const problem = headerProblem(req)
  if (problem) return problem
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

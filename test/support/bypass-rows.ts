/**
 * Requests that could be read two ways (forged or repeated headers, encodings, case, dot
 * segments, matrix parameters, method overrides), one row each, for every surface a test puts
 * in front of the CMA stand-in (test/support/cma-upstream.ts): gateway mode, the plugin, and
 * proxies asking forward-auth (test/authorizer/bypass.test.ts's nginx, docs/gateways/' nginx and
 * Caddy). A row is denied (no handler runs, the status is the row's) or, for `passes`, reaches
 * its handler.
 */
import type { Test } from 'tap'
import type { Scope } from '../../src/domain/scope.js'
import type { Reached } from './cma-upstream.js'

export type TokenName = 'readEntries' | 'entriesReadWrite' | 'contentTypesRead' | 'allRead' | 'allReadWrite' | 'assetsOnDev'

export const SCOPES: Readonly<Record<TokenName, Scope>> = {
  readEntries: [{ module: 'entry', acl: { read: true, write: false } }],
  entriesReadWrite: [{ module: 'entry', acl: { read: true, write: true } }],
  contentTypesRead: [{ module: 'content_type', acl: { read: true, write: false } }],
  allRead: [{ module: '$all', acl: { read: true, write: false } }],
  allReadWrite: [{ module: '$all', acl: { read: true, write: true } }],
  assetsOnDev: [
    { module: 'asset', acl: { read: true, write: true } },
    { module: 'branch', acl: { read: true, write: false }, branches: ['dev'] },
  ],
}

/** What the rows need of a test's stacks and tokens. */
export interface RowContext {
  readonly apiKey: string
  readonly otherKey: string
  /** A token of the other stack. */
  readonly stranger: string
  readonly secret: (token: TokenName) => string
}

/** How a surface was built: proxies answer some requests themselves (nginx: 400 for a second Authorization). */
export type SurfaceKind = 'nginx' | 'caddy' | 'gateway' | 'plugin'

export interface BypassRow {
  readonly label: string
  readonly method: string
  readonly target: string
  readonly headers: (c: RowContext) => Array<[string, string]>
  /** Only these surfaces (default: all). */
  readonly on?: readonly SurfaceKind[]
  /** The status a surface answers, when not 403. */
  readonly status?: Partial<Record<SurfaceKind, number>>
  /** The request must reach this handler (route), with status 200. */
  readonly passes?: string
}

const ENTRY = '/v3/content_types/blog/entries/blt1a2b3c'
const auth = (c: RowContext, token: TokenName): Array<[string, string]> => [['api_key', c.apiKey], ['authorization', `Bearer ${c.secret(token)}`]]

export const BYPASS_ROWS: readonly BypassRow[] = [
  // Whose headers: a client adds the pair of a proxy it is not behind, to be judged on a readable path.
  { label: 'forged X-Forwarded-Method/-Uri', method: 'DELETE', target: ENTRY, headers: (c) => [...auth(c, 'readEntries'), ['X-Forwarded-Method', 'GET'], ['X-Forwarded-Uri', ENTRY]] },
  { label: 'forged X-Original-Method/-URI', method: 'DELETE', target: ENTRY, headers: (c) => [...auth(c, 'readEntries'), ['X-Original-Method', 'GET'], ['X-Original-URI', ENTRY]] },
  // The path table judged raw text; each form now has one reading or is refused.
  { label: '%77orkflow (an encoded letter of a never-allowed route)', method: 'POST', target: `${ENTRY}/%77orkflow`, headers: (c) => auth(c, 'entriesReadWrite') },
  { label: 'a fragment the proxy drops', method: 'POST', target: `${ENTRY}/workflow#x`, headers: (c) => auth(c, 'entriesReadWrite'), on: ['gateway', 'plugin'] },
  { label: 'upper case, for case-blind routers', method: 'POST', target: `${ENTRY}/WORKFLOW`, headers: (c) => auth(c, 'entriesReadWrite') },
  { label: 'upper case in a literal segment', method: 'POST', target: '/v3/Stacks/share', headers: (c) => auth(c, 'allReadWrite') },
  { label: 'a matrix parameter', method: 'POST', target: `${ENTRY}/workflow;x`, headers: (c) => auth(c, 'entriesReadWrite') },
  { label: '..;/ (Tomcat-style traversal)', method: 'POST', target: `${ENTRY}/..;/..;/..;/..;/stacks/share`, headers: (c) => auth(c, 'entriesReadWrite') },
  { label: 'dot segments', method: 'GET', target: '/v3/content_types/blog/entries/../../../stacks/management_tokens', headers: (c) => auth(c, 'allRead') },
  { label: 'an encoded slash', method: 'GET', target: '/v3/content_types/blog%2Fentries', headers: (c) => auth(c, 'contentTypesRead') },
  { label: 'a method override header', method: 'GET', target: ENTRY, headers: (c) => [...auth(c, 'readEntries'), ['X-HTTP-Method-Override', 'DELETE']] },
  { label: 'a _method query parameter', method: 'POST', target: `${ENTRY}?_method=DELETE`, headers: (c) => auth(c, 'readEntries') },
  // Repeated headers: Node keeps the first authorization, an upstream may read the last (nginx refuses a second one itself: 400).
  { label: 'a repeated authorization header', method: 'GET', target: ENTRY, headers: (c) => [...auth(c, 'readEntries'), ['authorization', `Bearer ${c.stranger}`]], status: { nginx: 400 } },
  { label: 'a repeated branch header', method: 'GET', target: ENTRY, headers: (c) => [...auth(c, 'readEntries'), ['branch', 'main'], ['branch', 'dev']] },
  { label: 'a repeated api_key header', method: 'GET', target: ENTRY, headers: (c) => [...auth(c, 'readEntries'), ['api_key', c.otherKey]] },
  // What passes is one reading.
  { label: 'an encoded unreserved letter and a trailing slash', method: 'GET', target: '/v3/content_types/bl%6Fg/entries/?locale=en-us', headers: (c) => auth(c, 'readEntries'), passes: '/v3/content_types/:ct/entries' },
]

/** One request through a surface: its status and the upstream handlers it reached. */
export type SendRow = (port: number, method: string, target: string, headers: Array<[string, string]>) => Promise<{ status: number; reached: readonly Reached[] }>

/** Every row on every surface it applies to; returns what each row got, for tests that check more. */
export const checkRows = async (t: Test, c: RowContext, surfaces: ReadonlyArray<readonly [name: string, kind: SurfaceKind, port: number]>, send: SendRow) => {
  const got: Array<{ row: BypassRow; surface: string; status: number; reached: readonly Reached[] }> = []
  for (const row of BYPASS_ROWS)
    for (const [surface, kind, port] of surfaces) {
      if (row.on && !row.on.includes(kind)) continue
      const r = await send(port, row.method, row.target, row.headers(c))
      got.push({ row, surface, ...r })
      if (row.passes) {
        t.equal(r.status, 200, `${row.label} passes (${surface})`)
        t.same(r.reached.map((x) => x.route), [row.passes], `${row.label}: the ${row.passes} handler ran (${surface})`)
        continue
      }
      const status = row.status?.[kind] ?? 403
      t.equal(r.reached.length, 0, `${row.label} (${surface}): no handler ran`)
      t.equal(r.status, status, `${row.label} (${surface}): ${status}`)
    }
  return got
}

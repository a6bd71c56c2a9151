/**
 * A stand-in for the CMA behind the authorizer, for differential tests: a fastify app with a
 * handler per CMA endpoint that records which endpoint ran, for which method, stack and branch.
 *
 * The endpoint list is written here from the CMA's documentation, independently of the path
 * table (src/authorizer/path-modules.ts), so that a test comparing the two is not circular. The
 * router is as lenient as common upstreams are: the URL first resolved as a WHATWG URL parser
 * does (dot segments, `%2e`, `\` as `/`: what a normalising proxy hop or framework does), then
 * matched case-blind (Express's default), trailing and repeated slashes ignored, `;` read as the
 * start of the query (Tomcat-style matrix parameters). A request the authorizer judged as one endpoint but such a router sends to
 * another shows up as a handler that ran outside the token's scope.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions, type HTTPMethods } from 'fastify'

/** What the CMA does at an endpoint: a module a token may be scoped to, or never. */
export type EndpointModule = string | { readonly never: string }

export const CMA_ENDPOINTS: ReadonlyArray<readonly [route: string, module: EndpointModule]> = [
  ['/v3/content_types', 'content_type'],
  ['/v3/content_types/:ct', 'content_type'],
  ['/v3/content_types/:ct/references', 'content_type'],
  ['/v3/content_types/:ct/entries', 'entry'],
  ['/v3/content_types/:ct/entries/:entry', 'entry'],
  ['/v3/content_types/:ct/entries/:entry/publish', 'entry'],
  ['/v3/content_types/:ct/entries/:entry/versions', 'entry'],
  ['/v3/content_types/:ct/entries/:entry/workflow', { never: 'workflow stage' }],
  ['/v3/bulk/workflow', { never: 'workflow stage' }],
  ['/v3/global_fields', 'global_field'],
  ['/v3/global_fields/:gf', 'global_field'],
  ['/v3/assets', 'asset'],
  ['/v3/assets/:asset', 'asset'],
  ['/v3/assets/folders/:folder', 'asset'],
  ['/v3/environments', 'environment'],
  ['/v3/environments/:env', 'environment'],
  ['/v3/locales', 'locale'],
  ['/v3/locales/:code', 'locale'],
  ['/v3/extensions', 'extension'],
  ['/v3/extensions/:ext', 'extension'],
  ['/v3/webhooks', 'webhook'],
  ['/v3/webhooks/:hook', 'webhook'],
  ['/v3/workflows', 'workflow'],
  ['/v3/workflows/:wf', 'workflow'],
  ['/v3/workflows/publishing_rules', 'publish_rule'],
  ['/v3/workflows/publishing_rules/:rule', 'publish_rule'],
  ['/v3/labels', 'label'],
  ['/v3/labels/:label', 'label'],
  ['/v3/releases', 'release'],
  ['/v3/releases/:release', 'release'],
  ['/v3/releases/:release/items', 'release'],
  ['/v3/roles', 'role'],
  ['/v3/roles/:role', 'role'],
  ['/v3/taxonomies', 'taxonomy'],
  ['/v3/taxonomies/:tax/terms', 'taxonomy'],
  ['/v3/audit-logs', 'audit_log'],
  ['/v3/audit-logs/:log', 'audit_log'],
  ['/v3/publish-queue', 'publish_queue'],
  ['/v3/publish-queue/:item', 'publish_queue'],
  ['/v3/stacks/branches', 'branch'],
  ['/v3/stacks/branches/:branch', 'branch'],
  ['/v3/stacks/branch_aliases', 'branch_alias'],
  ['/v3/stacks/branch_aliases/:alias', 'branch_alias'],
  ['/v3/stacks', { never: 'stack' }],
  ['/v3/stacks/settings', { never: 'stack settings' }],
  ['/v3/stacks/share', { never: 'sharing' }],
  ['/v3/stacks/unshare', { never: 'unsharing' }],
  ['/v3/stacks/transfer_ownership', { never: 'ownership' }],
  ['/v3/stacks/management_tokens', { never: 'management tokens' }],
  ['/v3/stacks/management_tokens/:token', { never: 'management tokens' }],
  ['/v3/stacks/delivery_tokens', { never: 'delivery tokens' }],
  ['/v3/stacks/delivery_tokens/:token', { never: 'delivery tokens' }],
  ['/v3/organizations/:org', { never: 'organizations' }],
  ['/v3/user', { never: 'user' }],
  ['/v3/user-session', { never: 'sessions' }],
]

export const ENDPOINT_METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']

export interface Reached {
  readonly route: string
  readonly module: EndpointModule
  readonly method: string
  readonly url: string
  readonly apiKey: string | string[] | undefined
  readonly branch: string | string[] | undefined
  readonly authorization: string | undefined
  /** The identity a proxy added after forward-auth allowed the request. */
  readonly tokenUid: string | string[] | undefined
}

/** Lenient routing, as a case-blind, slash-forgiving, matrix-stripping upstream would route. */
export const LENIENT_ROUTER = {
  caseSensitive: false,
  ignoreTrailingSlash: true,
  ignoreDuplicateSlashes: true,
  useSemicolonDelimiter: true,
} as FastifyServerOptions['routerOptions']

/** The request target as a WHATWG URL parser resolves it. */
export const resolvedUrl = (req: { url?: string }): string => {
  try {
    const u = new URL(req.url ?? '/', 'http://upstream.invalid')
    return u.pathname + u.search
  } catch {
    return req.url ?? '/'
  }
}

/** Registers a recording handler for every endpoint and method on `app`. */
export const cmaRoutes = (app: FastifyInstance, reached: Map<string, Reached[]>) => {
  for (const [route, module] of CMA_ENDPOINTS)
    app.route({
      method: ENDPOINT_METHODS,
      url: route,
      handler: async (req) => {
        const id = String(req.headers['x-case-id'])
        const list = reached.get(id) ?? []
        list.push({
          route,
          module,
          method: req.method,
          url: req.url,
          apiKey: req.headers.api_key,
          branch: req.headers.branch,
          authorization: typeof req.headers.authorization === 'string' ? req.headers.authorization : undefined,
          tokenUid: req.headers['x-token-uid'],
        })
        reached.set(id, list)
        return { route }
      },
    })
}

/** The upstream CMA on a loopback port. */
export const cmaUpstream = async (t: { teardown(fn: () => unknown): void }) => {
  const reached = new Map<string, Reached[]>()
  const app = Fastify({ routerOptions: LENIENT_ROUTER, rewriteUrl: resolvedUrl })
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_req, _payload, done) => done(null))
  cmaRoutes(app, reached)
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return { url, port: Number(new URL(url).port), reached }
}

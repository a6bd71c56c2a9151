import replyFrom from '@fastify/reply-from'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, RawServerBase } from 'fastify'
import type { IncomingHttpHeaders } from 'node:http'
import { DECIDED_METHODS } from './canonical.js'
import type { Authorizer } from './decide.js'
import { replyDenied } from './denial.js'
import { inputOf } from './request-input.js'
import './plugin.js' // the `managementToken` request decorator's type

type Strategy = Parameters<FastifyInstance['addConstraintStrategy']>[0]
type RouteHandler = NonNullable<ReturnType<ReturnType<Strategy['storage']>['get']>>

export interface GatewayOptions {
  readonly authorizer: Authorizer
  readonly upstream: string
}

/** Derived per request once a route uses it: which credential the request carries. */
export const CREDENTIAL_CONSTRAINT = 'credential'
export const MANAGEMENT_TOKEN = 'management-token'

/**
 * Paths the service itself answers for authtoken callers that are also CMA paths a management
 * token may be scoped to: with a management token (and no authtoken) they go upstream.
 */
const UPSTREAM_FOR_TOKENS = ['/v3/roles']

/**
 * Gateway mode (UPSTREAM_URL): every `/v3/*` request the service does not serve itself
 * is authorized, then forwarded with @fastify/reply-from, the secret stripped and the token's
 * identity added as `x-token-uid` / `x-stack-api-key`. What is forwarded is the canonical URL the
 * authorizer judged (`Allow.url`), never the client's own string, so the upstream
 * routes exactly the request that was allowed. Bodies are streamed through unread.
 *
 * The routes are wildcards (`/v3/*`), which the router tries after every static and parametric
 * route, so the management routes (`/v3/stacks...`, `/v3/audit-logs`, ...) and `/v3/authorize`
 * are never shadowed. The one overlap, `GET /v3/roles`, is resolved by a route constraint: a
 * request with a management token and no authtoken matches the constrained route, which the
 * router prefers over the service's unconstrained one.
 */
export const gateway: FastifyPluginAsync<GatewayOptions> = async (app, { authorizer, upstream }) => {
  if (!app.hasConstraintStrategy(CREDENTIAL_CONSTRAINT))
    app.addConstraintStrategy({
      name: CREDENTIAL_CONSTRAINT,
      storage() {
        const handlers = new Map<unknown, RouteHandler>()
        return {
          get: (value: unknown) => handlers.get(value) ?? null,
          set: (value: unknown, handler: RouteHandler) => void handlers.set(value, handler),
        }
      },
      deriveConstraint: (req: { headers: IncomingHttpHeaders }) =>
        req.headers.authorization !== undefined && req.headers.authtoken === undefined ? MANAGEMENT_TOKEN : 'other',
    })
  if (!app.hasRequestDecorator('managementToken')) app.decorateRequest('managementToken', null)
  await app.register(replyFrom, { base: upstream })
  // Bodies go upstream as streams, as sent.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload))

  const rewriteRequestHeaders = (req: FastifyRequest<{}, RawServerBase>, headers: IncomingHttpHeaders) => {
    const { authorization: _secret, ...rest } = headers
    const id = req.managementToken
    return id ? { ...rest, 'x-token-uid': id.tokenUid, 'x-stack-api-key': id.apiKey } : rest
  }
  const forward = async (req: FastifyRequest, reply: FastifyReply) => {
    const d = await authorizer.authorize(inputOf(req))
    if (!d.allowed) return replyDenied(reply, d)
    reply.headers(d.headers)
    req.managementToken = { tokenUid: d.tokenUid, apiKey: d.apiKey }
    return reply.from(d.url, { rewriteRequestHeaders })
  }
  app.route({ method: [...DECIDED_METHODS], url: '/v3/*', handler: forward })
  for (const path of UPSTREAM_FOR_TOKENS)
    app.route({ method: ['GET', 'HEAD'], url: path, constraints: { [CREDENTIAL_CONSTRAINT]: MANAGEMENT_TOKEN }, handler: forward })
}

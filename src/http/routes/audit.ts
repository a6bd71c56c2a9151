import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import * as t from 'io-ts'
import { AUDIT_EVENT_TYPES, AUDIT_MODULES } from '../../domain/audit.js'
import { stackStream } from '../../eventstore/streams.js'
import { tokensAsOf } from '../../../projections/tokens-by-stack/as-of.js'
import type { Api } from '../context.js'
import { decodeOr422 } from '../decode.js'
import { documented, errorBody, rateLimitSchema, schemaTypes, scopeSchema } from '../docs.js'
import { badRequest, notFound } from '../errors.js'
import { peopleLimit } from '../people-limit.js'

const numberString = (min: number, max: number) =>
  new t.Type<number, string, unknown>(
    `integer from ${min} to ${max}`,
    (u): u is number => typeof u === 'number',
    (u, c) => {
      const n = typeof u === 'string' && /^\d+$/.test(u) ? Number(u) : Number.NaN
      return n >= min && n <= max ? t.success(n) : t.failure(u, c, `must be an integer from ${min} to ${max}`)
    },
    String,
  )
const instant = new t.Type<string, string, unknown>(
  'ISO-8601 instant',
  (u): u is string => typeof u === 'string',
  (u, c) =>
    typeof u === 'string' && Number.isFinite(Date.parse(u))
      ? t.success(new Date(Date.parse(u)).toISOString())
      : t.failure(u, c, 'must be an ISO-8601 date or instant'),
  String,
)
const oneOf = <K extends string>(keys: readonly K[]) => t.keyof(Object.fromEntries(keys.map((k) => [k, null])) as Record<K, null>)
const AuditQuery = t.partial({
  limit: numberString(1, 100),
  skip: numberString(0, Number.MAX_SAFE_INTEGER),
  module: oneOf(AUDIT_MODULES),
  event_type: oneOf(AUDIT_EVENT_TYPES),
  actor: t.string,
  from: instant,
  to: instant,
})

const AsOfQuery = t.type({ at: instant })

const instantSchema = { type: 'string', description: 'ISO-8601 date or instant' } as const
const auditQuerySchema = {
  type: 'object',
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 100, description: 'entries per page (25 when omitted)' },
    skip: { type: 'integer', minimum: 0 },
    module: { type: 'string', enum: [...AUDIT_MODULES] },
    event_type: { type: 'string', enum: [...AUDIT_EVENT_TYPES] },
    actor: { type: 'string', description: 'a user uid or email, in any case' },
    from: instantSchema,
    to: instantSchema,
  } satisfies { readonly [K in keyof typeof AuditQuery.props]: object },
  additionalProperties: false,
} as const

const asOfToken = {
  type: 'object',
  properties: {
    uid: schemaTypes.str,
    name: schemaTypes.str,
    scope: scopeSchema,
    rate_limit: { ...rateLimitSchema, type: ['object', 'null'] },
    expires_on: schemaTypes.nullableStr,
    status: { type: 'string', enum: ['active', 'expired', 'revoked'] },
    revoked_at: schemaTypes.nullableStr,
    last_changed_at: schemaTypes.str,
  },
  additionalProperties: true,
} as const

const tags = ['audit log']

/**
 * The audit log of token and membership changes, newest first, and the stack's tokens as they
 * stood at an instant; no secret appears in either. Callers are an owner/admin authtoken, or a
 * management token with `audit_log` read (checked by `authorizeToken`).
 * A person's requests are limited per minute (AUDIT_RATE_LIMIT): an as-of folds the stack's history.
 */
export const auditRoutes: FastifyPluginAsync<{ api: Api }> = async (app, { api }) => {
  await peopleLimit(app, { max: api.deps.config.auditRateLimit, what: 'audit-log', clock: api.deps.clock })
  const allowed = async (req: FastifyRequest) => {
    const stack = api.stackOf(req)
    if (req.headers.authtoken === undefined && req.headers.authorization !== undefined && api.authorizeToken) {
      await api.authorizeToken(req)
    } else {
      api.requireRole(stack, req, true, 'read the audit log')
    }
    return stack
  }

  app.get('/v3/audit-logs', documented({ tags, summary: 'Token and membership changes, newest first', querystring: auditQuerySchema }), async (req) => {
    const stack = await allowed(req)
    const unknown = Object.keys(req.query as object).filter((k) => !(k in AuditQuery.props))
    if (unknown.length > 0)
      throw badRequest(`Unknown query parameter "${unknown[0]}"; known: ${Object.keys(AuditQuery.props).join(', ')}.`, Object.fromEntries(unknown.map((k) => [k, ['is not a known query parameter']])))
    const q = decodeOr422(AuditQuery, req.query)
    const { logs, count } = api.queries.audit(stack.api_key, { ...q, limit: q.limit ?? 25, skip: q.skip ?? 0 })
    return { logs, count }
  })

  app.get(
    '/v3/audit-logs/as-of',
    documented({
      tags,
      summary: "Every token of the stack as it stood at an instant (who could write on 1 March?)",
      querystring: { type: 'object', required: ['at'], properties: { at: { type: 'string', description: 'ISO-8601 date or instant' } } },
      response: {
        200: { type: 'object', properties: { as_of: schemaTypes.str, tokens: { type: 'array', items: asOfToken } } },
        422: errorBody,
      },
    }),
    async (req) => {
      const stack = await allowed(req)
      const { at } = decodeOr422(AsOfQuery, req.query)
      const tokens = await tokensAsOf(api.deps.store, stackStream(stack.api_key), Date.parse(at))
      return { as_of: at, tokens: tokens.map(({ stack: _stack, ...token }) => token) }
    },
  )

  app.get('/v3/audit-logs/:uid', { schema: { tags, summary: 'One audit-log entry' } }, async (req) => {
    const stack = await allowed(req)
    const { uid } = decodeOr422(t.type({ uid: t.string }), req.params)
    const log = api.queries.auditEntry(stack.api_key, uid)
    if (!log) throw notFound('Audit log entry not found.', { uid: ['not found'] })
    return { log }
  })
}

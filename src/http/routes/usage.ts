import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { type Granularity, GRANULARITIES, MAX_BUCKETS, seriesOf, STEP, totalsOf } from '../../usage/report.js'
import { DAY_MS, type LastUse, MINUTE_MS, MINUTE_RETENTION_MS, NEVER } from '../../usage/port.js'
import type { UsageReads } from '../../usage/usage.js'
import type { Api } from '../context.js'
import { documented, usageListSchema, usageSchema } from '../docs.js'
import { invalid, notFound, unavailable } from '../errors.js'

const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

/**
 * `from` and `to` (ISO 8601) of a usage query; default: the 24 hours to the end of the current
 * minute (so that the minute under way counts). 422 naming the field.
 */
const rangeOf = (req: FastifyRequest, now: number): { from: number; to: number } => {
  const q = req.query as Record<string, unknown>
  const at = (field: 'from' | 'to', fallback: number): number => {
    const v = q[field]
    if (v === undefined) return fallback
    const ms = typeof v === 'string' && ISO.test(v) ? Date.parse(v) : NaN
    if (Number.isNaN(ms)) throw invalid(`${field}: must be an ISO 8601 date or instant`, { [field]: ['must be an ISO 8601 date or instant'] })
    return ms
  }
  const to = at('to', now - (now % MINUTE_MS) + MINUTE_MS)
  const from = at('from', to - DAY_MS)
  if (from >= to) throw invalid('from: must be before to', { from: ['must be before to'] })
  return { from, to }
}

const granularityOf = (req: FastifyRequest, from: number, to: number, now: number): Granularity => {
  const g = (req.query as Record<string, unknown>).granularity ?? 'hour'
  if (!(GRANULARITIES as readonly unknown[]).includes(g)) throw invalid(`granularity: must be one of ${GRANULARITIES.join(', ')}`, { granularity: [`must be one of ${GRANULARITIES.join(', ')}`] })
  const granularity = g as Granularity
  if (granularity === 'minute' && from < now - MINUTE_RETENTION_MS) throw invalid('from: minute buckets are kept 48 hours', { from: ['minute buckets are kept 48 hours: use hour or day'] })
  if ((to - from) / STEP[granularity] > MAX_BUCKETS) throw invalid(`granularity: more than ${MAX_BUCKETS} buckets`, { granularity: [`more than ${MAX_BUCKETS} buckets in the range: use a coarser one`] })
  return granularity
}

type TokenLike = { uid?: unknown; previous_secret_expires_at?: unknown }

/**
 * Adds `last_used_at`, `last_used_from` and (while a grace runs) `previous_secret_last_used_at`
 * to every token object a route answers with, read from the usage store at answer time: one
 * home for the fields, whichever route renders the token.
 */
export const lastUseOnTokens =
  (usage: Pick<UsageReads, 'lastUse'>) =>
  async (req: FastifyRequest, _reply: FastifyReply, payload: unknown): Promise<unknown> => {
    const body = payload as { token?: TokenLike; tokens?: TokenLike[] } | null
    if (body === null || typeof body !== 'object') return payload
    const tokens = [...(Array.isArray(body.tokens) ? body.tokens : []), ...(body.token && typeof body.token === 'object' ? [body.token] : [])].filter((t) => typeof t.uid === 'string')
    if (tokens.length === 0) return payload
    // The store unreachable (a Redis outage) must not take token management down with it: the
    // token is answered without its last use, and the failure logged.
    const uses = await usage.lastUse(tokens.map((t) => t.uid as string)).catch((err: unknown) => {
      req.log.warn({ err }, 'usage store unreachable: token answered without its last use')
      return new Map<string, LastUse>()
    })
    const withUse = (t: TokenLike) => {
      const u = uses.get(t.uid as string) ?? NEVER
      const grace = t.previous_secret_expires_at !== null && t.previous_secret_expires_at !== undefined
      return { ...t, last_used_at: iso(u.at), last_used_from: u.from, previous_secret_last_used_at: grace ? iso(u.previousAt) : null }
    }
    return { ...body, ...(body.token ? { token: withUse(body.token) } : {}), ...(Array.isArray(body.tokens) ? { tokens: body.tokens.map(withUse) } : {}) }
  }

const tags = ['management tokens']
/** A usage read that failed (Redis unreachable): 503, never a 500. */
const unreachable = (err: unknown): never => {
  throw Object.assign(unavailable('Usage store unavailable; try again shortly.'), { cause: err })
}
const instant = { type: 'string', description: 'ISO 8601 date or instant' }
const range = {
  from: { ...instant, description: 'ISO 8601 date or instant; default: 24 hours before `to`' },
  to: { ...instant, description: 'ISO 8601 date or instant; default: the end of the current minute' },
}

/**
 * `GET /v3/stacks/management_tokens/usage` (every live token's totals) and
 * `GET /v3/stacks/management_tokens/:uid/usage` (one token's series, revoked ones too), owner or admin.
 * The static path is a route of its own, so `usage` is never read as a token uid.
 */
export const usageRoutes: FastifyPluginAsync<{ api: Api }> = async (app, { api }) => {
  const { queries, deps } = api
  const now = () => deps.clock().getTime()
  const managedStack = (req: FastifyRequest) => {
    const stack = api.stackOf(req)
    api.requireRole(stack, req, true)
    return stack
  }

  app.get('/v3/stacks/management_tokens/usage', documented({ tags, summary: "Every live token's usage totals and last use", querystring: { type: 'object', properties: range }, response: { 200: usageListSchema } }), async (req) => {
    const stack = managedStack(req)
    const { from, to } = rangeOf(req, now())
    const tokens = queries.tokens(stack.api_key)
    const uids = tokens.map((t) => t.uid)
    const [totals, uses] = await Promise.all([totalsOf(deps.usage, uids, from, to, now()), deps.usage.lastUse(uids)]).catch(unreachable)
    return { usage: tokens.map((t) => ({ token_uid: t.uid, name: t.name, last_used_at: iso(uses.get(t.uid)?.at ?? null), totals: totals.get(t.uid) })) }
  })

  app.get('/v3/stacks/management_tokens/:uid/usage', documented({
      tags,
      summary: "One token's decisions by outcome over time",
      querystring: { type: 'object', properties: { ...range, granularity: { type: 'string', enum: GRANULARITIES, description: 'default hour; minute only within the last 48 hours' } } },
      response: { 200: usageSchema },
    }), async (req) => {
    const stack = managedStack(req)
    const uid = (req.params as { uid: string }).uid
    // A revoked token's usage stays readable: what used it, and the attempts with its secrets since.
    if (!queries.tokenEver(stack.api_key, uid)) throw notFound('Management token not found.', { uid: ['not found'] })
    const t = now()
    const { from, to } = rangeOf(req, t)
    const granularity = granularityOf(req, from, to, t)
    const s = await seriesOf(deps.usage, uid, from, to, granularity).catch(unreachable)
    return { usage: { token_uid: uid, from: iso(s.from), to: iso(to), granularity, totals: s.totals, series: s.series } }
  })
}

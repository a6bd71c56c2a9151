import { createHash } from 'node:crypto'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import * as t from 'io-ts'
import type { TokenChanges } from '../../domain/commands.js'
import type { Scope } from '../../domain/scope.js'
import type { TokenView } from '../../read/queries.js'
import type { Api } from '../context.js'
import { decodeOr422 } from '../decode.js'
import { tokenSchema } from '../docs.js'
import { invalid, notFound } from '../errors.js'

/** What clients send: `acl.write` (or `read`) may be omitted, as the platform's SDK examples do. */
const ScopeIn = t.array(
  t.intersection([
    t.type({ module: t.string }),
    t.partial({
      acl: t.partial({ read: t.boolean, write: t.boolean }),
      branches: t.array(t.string),
      branch_aliases: t.array(t.string),
    }),
  ]),
)
const RateLimitIn = t.union([t.null, t.type({ read: t.number, write: t.number })])
const TokenFields = t.partial({
  name: t.string,
  description: t.string,
  scope: ScopeIn,
  expires_on: t.union([t.string, t.null]),
  is_email_notification_enabled: t.boolean,
  rate_limit: RateLimitIn,
})
const TokenBody = t.type({ token: TokenFields })
const RotateBody = t.union([t.undefined, t.null, t.partial({ previous_expires_in_seconds: t.number })])

/** Keeps only the scope fields the service understands, with both acl flags explicit. */
const normaliseScope = (scope: t.TypeOf<typeof ScopeIn>): Scope =>
  scope.map((s) => ({
    module: s.module,
    acl: { read: s.acl?.read ?? false, write: s.acl?.write ?? false },
    ...(s.branches ? { branches: s.branches } : {}),
    ...(s.branch_aliases ? { branch_aliases: s.branch_aliases } : {}),
  }))

export const SECRET_PREFIX = 'cs'
/** SPEC 2.8: `cs` + 32 hex characters from 128 CSPRNG bits; only the SHA-256 is ever kept. */
export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex')

const tags = ['management tokens']
const byUid = '/v3/stacks/management_tokens/:uid'
const Params = t.type({ uid: t.string })

/** `?query={"name":"..."}` as the SDK sends it (also `query[name]=` and `name=`). */
const nameFilter = (req: FastifyRequest): string | undefined => {
  const q = req.query as Record<string, unknown>
  const raw = q.query
  if (typeof raw === 'string' && raw.length > 0) {
    let parsed: unknown
    try {
      parsed = JSON.parse(raw)
    } catch {
      throw invalid('query: must be a JSON object', { query: ['must be a JSON object'] })
    }
    const name = (parsed as { name?: unknown } | null)?.name
    if (name !== undefined && typeof name !== 'string') throw invalid('query.name: must be a string', { 'query.name': ['must be a string'] })
    return name
  }
  const flat = q['query[name]'] ?? q.name
  return typeof flat === 'string' ? flat : undefined
}

/** SPEC 5.2: management tokens of the stack named by `api_key`. */
export const tokenRoutes: FastifyPluginAsync<{ api: Api }> = async (app, { api }) => {
  const { queries, deps } = api
  const newSecret = () => {
    const secret = `${SECRET_PREFIX}${deps.randomBytes(16).toString('hex')}`
    return { secret, hash: hashSecret(secret) }
  }
  const managedStack = (req: FastifyRequest) => {
    const stack = api.stackOf(req)
    api.requireRole(stack, req, true)
    return stack
  }
  const view = (apiKey: string, uid: string): TokenView => {
    const token = queries.token(apiKey, uid)
    if (!token) throw notFound('Management token not found.', { uid: ['not found'] })
    return token
  }

  app.post('/v3/stacks/management_tokens', { schema: { tags, summary: 'Generate a token; its secret is returned once' } }, async (req, reply) => {
    const actor = req.actor()
    const stack = managedStack(req)
    return api.idempotency(req, reply, stack.api_key, async () => {
      const { token } = decodeOr422(TokenBody, req.body)
      if (token.name === undefined) throw invalid('token.name: is required', { 'token.name': ['is required'] })
      if (token.scope === undefined) throw invalid('token.scope: is required', { 'token.scope': ['is required'] })
      const uid = `blt${deps.randomBytes(8).toString('hex')}`
      const { secret, hash } = newSecret()
      await api.run(
        stack.api_key,
        {
          type: 'GenerateToken',
          actor,
          token_uid: uid,
          secret_hash: hash,
          name: token.name,
          description: token.description ?? '',
          scope: normaliseScope(token.scope),
          expires_on: token.expires_on ?? null,
          rate_limit: token.rate_limit ?? null,
          is_email_notification_enabled: token.is_email_notification_enabled ?? false,
        },
        req,
      )
      return {
        status: 201,
        body: { notice: 'Management Token created successfully.', token: { ...view(stack.api_key, uid), token: secret } },
      }
    })
  })

  app.get('/v3/stacks/management_tokens', { schema: { tags, summary: 'Live tokens of the stack (never a secret)', response: { 200: { type: 'object', properties: { tokens: { type: 'array', items: tokenSchema } } } } } }, async (req) => {
    const stack = managedStack(req)
    const name = nameFilter(req)
    const tokens = queries.tokens(stack.api_key)
    return { tokens: name === undefined ? tokens : tokens.filter((tk) => tk.name === name) }
  })

  app.get(byUid, { schema: { tags, summary: 'One live token (never a secret)', response: { 200: { type: 'object', properties: { token: tokenSchema } } } } }, async (req) => {
    const stack = managedStack(req)
    return { token: view(stack.api_key, decodeOr422(Params, req.params).uid) }
  })

  app.put(byUid, { schema: { tags, summary: 'Change name, description, scope, expiry, limits or notifications' } }, async (req) => {
    const actor = req.actor()
    const stack = managedStack(req)
    const { uid } = decodeOr422(Params, req.params)
    const { token } = decodeOr422(TokenBody, req.body)
    const changes: TokenChanges = {
      ...(token.name === undefined ? {} : { name: token.name }),
      ...(token.description === undefined ? {} : { description: token.description }),
      ...(token.scope === undefined ? {} : { scope: normaliseScope(token.scope) }),
      ...(token.expires_on === undefined ? {} : { expires_on: token.expires_on }),
      ...(token.rate_limit === undefined ? {} : { rate_limit: token.rate_limit }),
      ...(token.is_email_notification_enabled === undefined ? {} : { is_email_notification_enabled: token.is_email_notification_enabled }),
    }
    await api.run(stack.api_key, { type: 'UpdateToken', actor, token_uid: uid, changes }, req)
    return { notice: 'Management Token updated successfully.', token: view(stack.api_key, uid) }
  })

  app.delete(byUid, { schema: { tags, summary: 'Revoke a token, effective at once' } }, async (req) => {
    const actor = req.actor()
    const stack = managedStack(req)
    const { uid } = decodeOr422(Params, req.params)
    await api.run(stack.api_key, { type: 'RevokeToken', actor, token_uid: uid }, req)
    return { notice: 'Management Token deleted successfully.' }
  })

  app.post(`${byUid}/rotate`, { schema: { tags, summary: 'Issue a new secret; the old one works for a grace period' } }, async (req, reply) => {
    const actor = req.actor()
    const stack = managedStack(req)
    const { uid } = decodeOr422(Params, req.params)
    return api.idempotency(req, reply, stack.api_key, async () => {
      const body = decodeOr422(RotateBody, req.body)
      const { secret, hash } = newSecret()
      await api.run(
        stack.api_key,
        { type: 'RotateToken', actor, token_uid: uid, secret_hash: hash, previous_expires_in_seconds: body?.previous_expires_in_seconds ?? 0 },
        req,
      )
      return {
        status: 200,
        body: { notice: 'Management Token rotated successfully.', token: { ...view(stack.api_key, uid), token: secret } },
      }
    })
  })
}

import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import * as t from 'io-ts'
import { type TokenChanges, TOKEN_FIELDS, type TokenField } from '../../domain/commands.js'
import { PlainText } from '../../domain/plain-text.js'
import type { Scope } from '../../domain/scope.js'
import type { Queries, TokenView } from '../../../projections/queries.js'
import { newSecret } from '../../domain/secret.js'
import type { Handled } from '../../write/handle-command.js'
import type { Api } from '../context.js'
import { decodeOr422 } from '../decode.js'
import { tokenSchema } from '../docs.js'
import { exact, nullable, optionalBody } from '../exact.js'
import { invalid, notFound } from '../errors.js'
import { emptyBodyIsNoBody } from '../json-body.js'
import { answer, idempotencyMark, SECRET_SHOWN_ONCE } from '../idempotency.js'
import { confirmed } from '../propagation.js'
import { lastUseOnTokens } from './usage.js'

/** What clients send: `acl.write` (or `read`) may be omitted, as the platform's SDK examples do. */
const ScopeIn = t.array(
  exact(
    t.intersection([
      t.type({ module: PlainText }),
      t.partial({
        acl: exact(t.partial({ read: t.boolean, write: t.boolean })),
        branches: t.array(PlainText),
        branch_aliases: t.array(PlainText),
      }),
    ]),
  ),
)
const RateLimitIn = nullable(exact(t.type({ read: t.number, write: t.number })))
/** What a client may set on a token: a codec for each of the domain's TOKEN_FIELDS, no other. */
const tokenFields = {
  name: PlainText,
  description: PlainText,
  scope: ScopeIn,
  expires_on: t.union([t.string, t.null]),
  is_email_notification_enabled: t.boolean,
  rate_limit: RateLimitIn,
  // Checked entry by entry by the domain (allowed-ips.ts), so a bad one is named `allowed_ips[3]`.
  allowed_ips: nullable(t.array(t.string)),
} satisfies { readonly [K in TokenField]: t.Mixed }
/**
 * What the SDK's `fetch()` then `update()` may send back besides the fields it can change (and
 * `token`, the secret, when `update()` is called on the object a create returned):
 * accepted and ignored on PUT, refused on create like any other unknown field.
 */
export const READ_ONLY_TOKEN_FIELDS = ['token', 'uid', 'last_rotated_at', 'previous_secret_expires_at', 'last_used_at', 'last_used_from', 'previous_secret_last_used_at', 'api_key', 'org_uid', 'created_at', 'created_by', 'updated_at', 'updated_by', 'deleted_at', 'stackHeaders', 'urlPath']
export const CreateTokenBody = exact(t.type({ token: exact(t.partial(tokenFields)) }))
export const UpdateTokenBody = exact(t.type({ token: exact(t.partial(tokenFields), READ_ONLY_TOKEN_FIELDS) }))
export const RotateBody = optionalBody(exact(t.partial({ previous_expires_in_seconds: t.number })))

/** Keeps only the scope fields the service understands, with both acl flags explicit. */
const normaliseScope = (scope: t.TypeOf<typeof ScopeIn>): Scope =>
  scope.map((s) => ({
    module: s.module,
    acl: { read: s.acl?.read ?? false, write: s.acl?.write ?? false },
    ...(s.branches ? { branches: s.branches } : {}),
    ...(s.branch_aliases ? { branch_aliases: s.branch_aliases } : {}),
  }))

/** The `keys` of `o` that are set. */
const pick = <T extends object, K extends keyof T>(o: T, keys: readonly K[]): Pick<T, K> =>
  Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])) as Pick<T, K>

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

/** Management tokens of the stack named by `api_key`. */
export const tokenRoutes: FastifyPluginAsync<{ api: Api }> = async (app, { api }) => {
  const { queries, deps } = api
  app.addHook('preSerialization', lastUseOnTokens(deps.usage))
  const managedStack = (req: FastifyRequest) => {
    const stack = api.stackOf(req)
    api.requireRole(stack, req, true)
    return stack
  }
  const view = (apiKey: string, uid: string, q: Queries = queries): TokenView => {
    const token = q.token(apiKey, uid)
    if (!token) throw notFound('Management token not found.', { uid: ['not found'] })
    return token
  }

  app.post('/v3/stacks/management_tokens', { config: { body: CreateTokenBody }, schema: { tags, summary: 'Generate a token; its secret is returned once' } }, async (req, reply) => {
    const actor = req.actor()
    const stack = managedStack(req)
    const mark = idempotencyMark(req, stack.api_key)
    const { token } = decodeOr422(CreateTokenBody, req.body)
    if (token.name === undefined) throw invalid('token.name: is required', { 'token.name': ['is required'] })
    if (token.scope === undefined) throw invalid('token.scope: is required', { 'token.scope': ['is required'] })
    const { secret, hash } = newSecret(deps.randomBytes)
    const done = await api.run(
      stack.api_key,
      {
        type: 'GenerateToken',
        actor,
        token_uid: `blt${deps.randomBytes(8).toString('hex')}`,
        secret_hash: hash,
        name: token.name,
        description: token.description ?? '',
        scope: normaliseScope(token.scope),
        expires_on: token.expires_on ?? null,
        rate_limit: token.rate_limit ?? null,
        is_email_notification_enabled: token.is_email_notification_enabled ?? false,
        allowed_ips: token.allowed_ips ?? [],
      },
      req,
      mark,
    )
    const uid = tokenUidOf(done)
    return answer(reply, queries, done, 201, (q, replayed) => ({
      notice: 'Management Token created successfully.',
      token: { ...view(stack.api_key, uid, q), ...(replayed ? {} : { token: secret }) },
      ...(replayed ? { secret_notice: SECRET_SHOWN_ONCE } : {}),
    }))
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

  app.put(byUid, { config: { body: UpdateTokenBody }, schema: { tags, summary: 'Change name, description, scope, expiry, limits, notifications or allowed_ips' } }, async (req, reply) => {
    const actor = req.actor()
    const stack = managedStack(req)
    const { uid } = decodeOr422(Params, req.params)
    const mark = idempotencyMark(req, stack.api_key)
    const { token } = decodeOr422(UpdateTokenBody, req.body)
    // Only the fields sent: the read-only ones a PUT may echo back are no changes.
    const { scope, allowed_ips, ...sent } = pick(token, TOKEN_FIELDS)
    const changes: TokenChanges = {
      ...sent,
      ...(scope === undefined ? {} : { scope: normaliseScope(scope) }),
      // null, like [], lets the token be used from any address.
      ...(allowed_ips === undefined ? {} : { allowed_ips: allowed_ips ?? [] }),
    }
    const done = await api.run(stack.api_key, { type: 'UpdateToken', actor, token_uid: uid, changes }, req, mark)
    const propagation = await confirmed(deps, done)
    return answer(reply, queries, done, 200, (q) => ({ notice: 'Management Token updated successfully.', token: view(stack.api_key, uid, q), ...propagation }))
  })

  app.delete(byUid, { onRequest: emptyBodyIsNoBody, schema: { tags, summary: 'Revoke a token, effective at once' } }, async (req, reply) => {
    const actor = req.actor()
    const stack = managedStack(req)
    const { uid } = decodeOr422(Params, req.params)
    const mark = idempotencyMark(req, stack.api_key)
    const done = await api.run(stack.api_key, { type: 'RevokeToken', actor, token_uid: uid }, req, mark)
    const propagation = await confirmed(deps, done)
    return answer(reply, queries, done, 200, () => ({ notice: 'Management Token deleted successfully.', ...propagation }))
  })

  app.post(`${byUid}/rotate`, { onRequest: emptyBodyIsNoBody, config: { body: RotateBody }, schema: { tags, summary: 'Issue a new secret; the old one works for a grace period' } }, async (req, reply) => {
    const actor = req.actor()
    const stack = managedStack(req)
    const { uid } = decodeOr422(Params, req.params)
    const mark = idempotencyMark(req, stack.api_key)
    const body = decodeOr422(RotateBody, req.body)
    const { secret, hash } = newSecret(deps.randomBytes)
    const done = await api.run(
      stack.api_key,
      // Without a grace named, the stack policy's default (decided with the stack's state).
      { type: 'RotateToken', actor, token_uid: uid, secret_hash: hash, ...(body?.previous_expires_in_seconds === undefined ? {} : { previous_expires_in_seconds: body.previous_expires_in_seconds }) },
      req,
      mark,
    )
    const propagation = await confirmed(deps, done)
    return answer(reply, queries, done, 200, (q, replayed) => ({
      notice: 'Management Token rotated successfully.',
      token: { ...view(stack.api_key, uid, q), ...(replayed ? {} : { token: secret }) },
      ...(replayed ? { secret_notice: SECRET_SHOWN_ONCE } : {}),
      ...propagation,
    }))
  })
}

/** The uid of the token a GenerateToken created, whether just now or in the run being replayed. */
const tokenUidOf = (done: Handled): string => {
  const generated = done.events.find((e) => e.type === 'TokenGenerated')
  /* c8 ignore next: a GenerateToken that succeeded appended exactly this event */
  if (generated?.type !== 'TokenGenerated') throw new Error('GenerateToken appended no TokenGenerated')
  return generated.data.token_uid
}

import fastifyCookie from '@fastify/cookie'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import * as E from 'fp-ts/lib/Either.js'
import { claimsOf } from '../claims.js'
import { ExpiringStore } from '../console-sessions.js'
import type { AppDeps } from '../deps.js'
import { documented, errorBody, schemaTypes } from '../docs.js'
import { unauthorized, unavailable } from '../errors.js'
import type { JwksVerifier } from '../jwks.js'
import type { RelyingParty } from '../oidc.js'
import { PENDING_TTL_S, pendingSignIns } from '../pending-sign-in.js'
import type { SignInMode } from '../sign-in.js'

export interface ConsoleAuthOptions {
  readonly deps: Pick<AppDeps, 'config' | 'clock' | 'randomBytes'>
  readonly mode: SignInMode
  /** With mode `oidc`: the relying party and the verifier its id_tokens must pass as authtokens. */
  readonly oidc?: { readonly rp: RelyingParty; readonly jwks: JwksVerifier } | undefined
}

/** The cookie of a sign-in in progress (sealed, see pending-sign-in.ts): sent back on the identity provider's redirect (Lax), to the callback only. */
const PENDING = 'mt_console_signin'
/** The cookie of a signed-in session: same-site requests to /console/auth only, never readable by scripts. */
const SESSION = 'mt_console_session'
const MAX_SESSIONS = 100_000

interface Session {
  readonly idToken: string
  readonly email: string
  readonly expiresAt: number
}

const PENDING_PROBLEM = {
  missing: 'no pending sign-in for this browser',
  expired: 'the pending sign-in is older than 10 minutes',
  unreadable: 'the pending sign-in cookie does not decrypt (altered, or from before a restart)',
} as const

/** An error and its cause's message: openid-client says which check failed (state, nonce...) in the cause. */
const messageOf = (e: Error): string => (e.cause instanceof Error ? `${e.message}: ${e.cause.message}` : e.message)

const tags = ['console']
const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store')

/**
 * Sign-in plumbing for the console under /console/auth (docs/console-api.md). The authtoken the
 * console then sends to /v3 is the identity provider's id_token, verified like any other.
 */
export const consoleAuthRoutes: FastifyPluginAsync<ConsoleAuthOptions> = async (app, { deps, mode, oidc }) => {
  const now = () => deps.clock().getTime()
  // Random per process, like the sessions below: a sign-in begun before a restart starts again.
  const pending = pendingSignIns(deps.randomBytes(32), deps.clock)
  const sessions = new ExpiringStore<Session>(now, MAX_SESSIONS)
  const newId = () => deps.randomBytes(32).toString('base64url')
  await app.register(fastifyCookie)
  // The POSTs below take no body; whatever a client sends is ignored rather than parsed.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined))

  /** PUBLIC_URL, or the address this request reached (behind a proxy, set PUBLIC_URL). */
  const baseUrl = (req: FastifyRequest) => deps.config.publicUrl ?? `${req.protocol}://${req.host}`
  const secure = (req: FastifyRequest) => baseUrl(req).startsWith('https:')

  app.get(
    '/console/auth/config',
    documented({
      tags,
      summary: 'How the console signs in: development (email form), oidc (identity provider) or external (paste an authtoken)',
      response: { 200: { type: 'object', properties: { mode: { type: 'string', enum: ['development', 'oidc', 'external'] } } } },
    }),
    async () => ({ mode }),
  )

  app.post(
    '/console/auth/session',
    documented({
      tags,
      summary: "The signed-in session's authtoken (the id_token), from its HttpOnly cookie; 401 without a session",
      response: {
        200: { type: 'object', properties: { authtoken: schemaTypes.str, email: schemaTypes.str, expires_at: schemaTypes.str } },
        401: errorBody,
      },
    }),
    async (req, reply) => {
      noStore(reply)
      const id = req.cookies[SESSION]
      const session = id === undefined ? undefined : sessions.get(id)
      if (!session) throw unauthorized('Not signed in, or the sign-in has expired.', { session: ['is missing or expired'] })
      return { authtoken: session.idToken, email: session.email, expires_at: new Date(session.expiresAt).toISOString() }
    },
  )

  app.post(
    '/console/auth/logout',
    documented({ tags, summary: 'Ends the signed-in session', response: { 200: { type: 'object', properties: { notice: schemaTypes.str } } } }),
    async (req, reply) => {
      const id = req.cookies[SESSION]
      if (id !== undefined) sessions.delete(id)
      noStore(reply).clearCookie(SESSION, { path: '/console/auth' })
      return { notice: 'Signed out.' }
    },
  )

  if (mode !== 'oidc' || !oidc) return
  const { rp, jwks } = oidc

  app.get(
    '/console/auth/login',
    documented({ tags, summary: "Starts OpenID Connect sign-in: 302 to the identity provider (authorization code + PKCE)", response: { 503: errorBody } }),
    async (req, reply) => {
      let begun: Awaited<ReturnType<RelyingParty['begin']>>
      try {
        begun = await rp.begin(`${baseUrl(req)}/console/auth/callback`)
      } catch (err) {
        req.log.warn({ err }, 'OIDC discovery failed')
        throw unavailable('The identity provider cannot be reached; try again shortly.')
      }
      noStore(reply).setCookie(PENDING, await pending.seal(begun.pending), {
        path: '/console/auth/callback',
        httpOnly: true,
        sameSite: 'lax',
        secure: secure(req),
        maxAge: PENDING_TTL_S,
      })
      return reply.redirect(begun.url, 302)
    },
  )

  app.get(
    '/console/auth/callback',
    {
      ...documented({
        tags,
        summary: 'Where the identity provider returns: exchanges the code, keeps the id_token in a session, 302 to /console/ (on failure to /console/?signin_error=...)',
      }),
      // The query holds the authorization code: log the path only.
      logSerializers: { req: (req: FastifyRequest) => ({ method: req.method, url: req.url.split('?')[0] }) },
    },
    async (req, reply) => {
      noStore(reply).clearCookie(PENDING, { path: '/console/auth/callback' })
      const fail = (reason: 'expired' | 'denied' | 'failed', detail: unknown) => {
        req.log.warn({ reason, detail: detail instanceof Error ? messageOf(detail) : detail }, 'console sign-in failed')
        return reply.redirect(`/console/?signin_error=${reason}`, 302)
      }
      // Unreadable: altered, or sealed by an earlier process; to the person, as good as expired.
      const opened = await pending.open(req.cookies[PENDING])
      if ('problem' in opened) return fail('expired', PENDING_PROBLEM[opened.problem])
      const started = opened.pending
      const query = new URL(req.url, 'http://x').searchParams
      if (query.has('error')) return fail('denied', query.get('error'))
      let idToken: string
      try {
        idToken = await rp.finish(new URL(`${started.redirectUri}?${query}`), started)
      } catch (err) {
        return fail('failed', err)
      }
      // The id_token becomes the console's authtoken: it must pass the same checks as one.
      const verified = await jwks.verify(idToken)
      if ('error' in verified) return fail('failed', verified.error.message)
      const actor = claimsOf(verified.claims, deps.clock())
      if (E.isLeft(actor)) return fail('failed', actor.left.message)
      const exp = verified.claims.exp as number
      const session = newId()
      sessions.set(session, { idToken, email: actor.right.email, expiresAt: exp * 1000 }, exp * 1000)
      reply.setCookie(SESSION, session, {
        path: '/console/auth',
        httpOnly: true,
        sameSite: 'strict',
        secure: secure(req),
        maxAge: Math.max(0, Math.floor(exp - now() / 1000)),
      })
      return reply.redirect('/console/', 302)
    },
  )
}

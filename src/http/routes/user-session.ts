import { createHash } from 'node:crypto'
import type { FastifyPluginAsync } from 'fastify'
import * as t from 'io-ts'
import { mintAuthtoken } from '../auth.js'
import { decodeOr422 } from '../decode.js'
import { documented, errorBody, schemaTypes } from '../docs.js'

/** An email as a person types it: one @, a dot in the domain, no spaces; compared in lower case. */
const Email = new t.Type<string, string, unknown>(
  'email',
  (u): u is string => typeof u === 'string',
  (u, c) => {
    const email = typeof u === 'string' ? u.trim().toLowerCase() : ''
    return email.length <= 254 && /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/.test(email)
      ? t.success(email)
      : t.failure(u, c, 'must be an email address')
  },
  String,
)
const LoginBody = t.type({ user: t.type({ email: Email }) })

/** The same person gets the same uid every time they sign in (the CMA's uids are `blt` + hex). */
export const developmentUid = (email: string): string =>
  `blt${createHash('sha256').update(`development-user:${email}`).digest('hex').slice(0, 16)}`

/**
 * Development sign-in (no JWT settings at all): the CMA's login call, minus the password. Mints an
 * authtoken with the local development secret. buildApp registers it in development mode only.
 */
export const userSessionRoute: FastifyPluginAsync<{ secret: string }> = async (app, { secret }) => {
  app.post(
    '/v3/user-session',
    documented({
      tags: ['console'],
      summary: 'Development only (no AUTH_JWT_SECRET, AUTH_JWT_PUBLIC_KEY, OIDC_ISSUER_URL or AUTH_JWKS_URL): an authtoken for an email',
      body: { type: 'object', required: ['user'], properties: { user: { type: 'object', required: ['email'], properties: { email: schemaTypes.str } } } },
      response: {
        200: {
          type: 'object',
          properties: {
            notice: schemaTypes.str,
            user: { type: 'object', properties: { uid: schemaTypes.str, email: schemaTypes.str, authtoken: schemaTypes.str } },
          },
        },
        422: errorBody,
      },
    }),
    async (req, reply) => {
      const { user } = decodeOr422(LoginBody, req.body)
      const uid = developmentUid(user.email)
      reply.header('cache-control', 'no-store')
      return { notice: 'Login Successful.', user: { uid, email: user.email, authtoken: mintAuthtoken(secret, { email: user.email, sub: uid }) } }
    },
  )
}

import type { FastifyPluginAsync } from 'fastify'
import * as t from 'io-ts'
import { canonicalEmail, emailProblem } from '../../domain/email.js'
import { developmentUid, mintAuthtoken } from '../auth.js'
import { decodeOr422 } from '../decode.js'
import { documented, errorBody, schemaTypes } from '../docs.js'

/**
 * An email checked as typed, then in its one canonical form (src/domain/email.ts): a look-alike
 * such as the Kelvin sign is refused before any mapping could make it someone else's address.
 */
const Email = new t.Type<string, string, unknown>(
  'email',
  (u): u is string => typeof u === 'string',
  (u, c) => {
    if (typeof u !== 'string') return t.failure(u, c, 'must be an email address')
    const problem = emailProblem(u)
    return problem === undefined ? t.success(canonicalEmail(u)) : t.failure(u, c, problem)
  },
  String,
)
const LoginBody = t.type({ user: t.type({ email: Email }) })

/**
 * Development sign-in (DEV_SIGNIN=true, no JWT settings at all): the CMA's login call, minus the
 * password. Mints an authtoken with the local development secret. buildApp registers it in
 * development mode only.
 */
export const userSessionRoute: FastifyPluginAsync<{ secret: string }> = async (app, { secret }) => {
  app.post(
    '/v3/user-session',
    documented({
      tags: ['console'],
      summary: 'Development only (DEV_SIGNIN=true on a loopback HOST, no JWT settings): an authtoken for an email',
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

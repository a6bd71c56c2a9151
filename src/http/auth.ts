import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fastifyJwt from '@fastify/jwt'
import { createSigner } from 'fast-jwt'
import { decodeProtectedHeader } from 'jose'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import * as E from 'fp-ts/lib/Either.js'
import type { Config } from '../config.js'
import type { Actor } from '../domain/commands.js'
import { claimsOf } from './claims.js'
import { unauthorized } from './errors.js'
import type { JwksResult, JwksVerifier } from './jwks.js'

/** How authtokens are verified: HS256 with a shared secret, or RS256/ES256 with a public key. */
export type JwtKey = { readonly secret: string } | { readonly publicKey: string }

export const DEV_SECRET_FILE = 'authtoken-dev-secret'

/**
 * The authtoken key: the configured secret or public key; with neither (development), a random secret kept in
 * the data folder, so that `management-tokens authtoken` and the server agree. With an identity
 * provider's key set (OIDC or AUTH_JWKS_URL) and neither, there is no local key at all: no
 * development authtoken is accepted.
 */
export const resolveJwtKey = (config: Config): (JwtKey & { readonly development: boolean }) | undefined => {
  if (config.jwtPublicKey) return { publicKey: config.jwtPublicKey.replace(/\\n/g, '\n'), development: false }
  if (config.jwtSecret) return { secret: config.jwtSecret, development: false }
  if (config.oidcIssuerUrl || config.jwksUrl) return undefined
  const file = join(config.dataDir, DEV_SECRET_FILE)
  if (!existsSync(file)) {
    mkdirSync(config.dataDir, { recursive: true })
    writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' })
  }
  return { secret: readFileSync(file, 'utf8').trim(), development: true }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified caller of a management endpoint. */
    actor(): Actor
    /** The identity provider's verdict on a `kid`-bearing authtoken, reached before the handler. */
    jwksResult: JwksResult | undefined
  }
}

/** A JWT header names a `kid` (without decoding the rest): such tokens are the identity provider's. */
export const namesKid = (raw: string): boolean => {
  try {
    return typeof decodeProtectedHeader(raw).kid === 'string'
  } catch {
    return false
  }
}

/**
 * Verifies the `authtoken` header on demand; roles come from stack membership, never the JWT.
 * The key: tokens whose header names a `kid` are checked against the identity provider's key set
 * (`jwks`, fetched ahead of the handler since it may need the network), all others against the
 * configured secret or public key. Whichever verified it, the claims go through `claimsOf`.
 */
export const authtoken = fp<{ key: JwtKey | undefined; jwks?: JwksVerifier | undefined; now?: () => Date }>(
  async (app: FastifyInstance, { key, jwks, now = () => new Date() }) => {
    if (key)
      await app.register(fastifyJwt, {
        secret: 'publicKey' in key ? { public: key.publicKey } : key.secret,
        verify: { algorithms: 'publicKey' in key ? ['RS256', 'ES256'] : ['HS256'] },
        decoratorName: 'jwtClaims',
      })
    app.decorateRequest('jwksResult', undefined)
    if (jwks)
      // Callback style: requests without such a token pay no promise.
      app.addHook('onRequest', (req, _reply, done) => {
        const raw = req.headers.authtoken
        if (typeof raw !== 'string' || !namesKid(raw)) return done()
        void jwks.verify(raw).then((result) => {
          req.jwksResult = result
          done()
        })
      })
    app.decorateRequest('actor', function (this: FastifyRequest): Actor {
      const raw = this.headers.authtoken
      if (typeof raw !== 'string' || raw.length === 0)
        throw unauthorized('The authtoken header is missing.', { authtoken: ['is required'] })
      let claims: unknown
      if (this.jwksResult) {
        if ('error' in this.jwksResult) throw this.jwksResult.error
        claims = this.jwksResult.claims
      } else {
        try {
          if (!key) throw new Error('no local key')
          claims = app.jwt.verify(raw)
        } catch {
          throw unauthorized('The authtoken is invalid or expired.', { authtoken: ['is invalid'] })
        }
      }
      const actor = claimsOf(claims, now())
      if (E.isLeft(actor)) throw unauthorized(actor.left.message, { authtoken: [actor.left.problem] })
      return actor.right
    })
  },
  { name: 'authtoken' },
)

/** Mints a development authtoken (HS256, with the local or configured shared secret). */
export const mintAuthtoken = (secret: string, claims: { email: string; sub: string }, expiresInMs = 12 * 3600_000): string =>
  createSigner({ key: secret, algorithm: 'HS256', expiresIn: expiresInMs })({ sub: claims.sub, email: claims.email })

/**
 * A development user's uid, derived from the (canonical) email, so the CLI's `authtoken` and the
 * console's development sign-in name one person alike each time (the CMA's uids are `blt` + hex).
 */
export const developmentUid = (email: string): string =>
  `blt${createHash('sha256').update(`development-user:${email}`).digest('hex').slice(0, 16)}`

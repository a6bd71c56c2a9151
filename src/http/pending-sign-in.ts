import { EncryptJWT, errors, jwtDecrypt } from 'jose'
import * as t from 'io-ts'
import type { PendingSignIn } from './oidc.js'

/** How long a sign-in may take at the identity provider. */
export const PENDING_TTL_S = 600

const Claims = t.type({ cv: t.string, st: t.string, nc: t.string, ru: t.string })

export type Opened = { readonly pending: PendingSignIn } | { readonly problem: 'missing' | 'expired' | 'unreadable' }

/**
 * A sign-in in progress travels in the browser's own cookie, as a compact JWE (dir, A256GCM):
 * the server keeps nothing per sign-in, so however many are started, none cancels another.
 * Encrypted, because the PKCE verifier must stay unknown to whoever sees the authorization URL;
 * authenticated, so a client cannot swap in its own state or nonce; dated, so it expires on the
 * server's clock and not only in the browser. A replayed cookie cannot sign in twice: the code it
 * pairs with (through the verifier) is spent at the identity provider on first use.
 */
export const pendingSignIns = (key: Uint8Array, now: () => Date) => ({
  seal: (p: PendingSignIn): Promise<string> => {
    const at = Math.floor(now().getTime() / 1000)
    return new EncryptJWT({ cv: p.codeVerifier, st: p.state, nc: p.nonce, ru: p.redirectUri })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .setIssuedAt(at)
      .setExpirationTime(at + PENDING_TTL_S)
      .encrypt(key)
  },

  open: async (cookie: string | undefined): Promise<Opened> => {
    if (cookie === undefined || cookie === '') return { problem: 'missing' }
    let payload: unknown
    try {
      ;({ payload } = await jwtDecrypt(cookie, key, {
        currentDate: now(),
        keyManagementAlgorithms: ['dir'],
        contentEncryptionAlgorithms: ['A256GCM'],
        requiredClaims: ['exp'],
      }))
    } catch (e) {
      return { problem: e instanceof errors.JWTExpired ? 'expired' : 'unreadable' }
    }
    if (!Claims.is(payload)) return { problem: 'unreadable' }
    return { pending: { codeVerifier: payload.cv, state: payload.st, nonce: payload.nc, redirectUri: payload.ru } }
  },
})

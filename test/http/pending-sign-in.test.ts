import { randomBytes } from 'node:crypto'
import { EncryptJWT } from 'jose'
import t from 'tap'
import { PENDING_TTL_S, pendingSignIns } from '../../src/http/pending-sign-in.js'
import { fakeClock } from '../support/app.js'

const PENDING = { codeVerifier: 'v'.repeat(43), state: 's'.repeat(43), nonce: 'n'.repeat(43), redirectUri: 'https://tokens.example.com/console/auth/callback' }

t.test('a sealed sign-in opens with its key until it expires; anything else is refused with its reason', async (t) => {
  const clock = fakeClock()
  const key = randomBytes(32)
  const sealed = pendingSignIns(key, clock.now)
  const cookie = await sealed.seal(PENDING)
  t.notMatch(cookie, /v{10}|s{10}|n{10}|tokens\.example/, 'nothing in clear')
  t.same(await sealed.open(cookie), { pending: PENDING })
  t.not(await sealed.seal(PENDING), cookie, 'a fresh IV each time')

  t.same(await sealed.open(undefined), { problem: 'missing' })
  t.same(await sealed.open(''), { problem: 'missing' })
  t.same(await pendingSignIns(randomBytes(32), clock.now).open(cookie), { problem: 'unreadable' }, 'another key')
  const [h, , iv, c, tag] = cookie.split('.') as [string, string, string, string, string]
  t.same(await sealed.open([h, '', iv, c, `${tag[0] === 'A' ? 'B' : 'A'}${tag.slice(1)}`].join('.')), { problem: 'unreadable' }, 'an altered tag')

  // Sealed with the right key but not as a pending sign-in: no exp, or a claim missing.
  const at = Math.floor(clock.now().getTime() / 1000)
  const other = (claims: Record<string, unknown>, exp?: number) => {
    const jwt = new EncryptJWT(claims).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
    return (exp === undefined ? jwt : jwt.setExpirationTime(exp)).encrypt(key)
  }
  t.same(await sealed.open(await other({ cv: 'a', st: 'b', nc: 'c', ru: 'd' })), { problem: 'unreadable' }, 'no exp')
  t.same(await sealed.open(await other({ cv: 'a', st: 'b', nc: 'c' }, at + 60)), { problem: 'unreadable' }, 'no redirect URI')
  t.same(await sealed.open(await other({ cv: 'a', st: 'b', nc: 'c', ru: 7 }, at + 60)), { problem: 'unreadable' }, 'a number for a string')

  clock.advance(PENDING_TTL_S * 1000 - 1000)
  t.same(await sealed.open(cookie), { pending: PENDING }, 'a second before its expiry')
  clock.advance(1000)
  t.same(await sealed.open(cookie), { problem: 'expired' }, 'at its expiry, on the given clock')
})

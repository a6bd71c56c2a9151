/**
 * Confirmed revocation across two real service processes sharing one event store, the instances
 * finding each other through instances.db beside it, or through Redis. A token used on B and
 * revoked on A is refused by B's very next request; with B frozen (SIGSTOP) the revoke answers
 * after PROPAGATION_TIMEOUT_MS, unconfirmed by B, and B refuses once resumed.
 */
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import { authorize, call, createStack, generate, type Pair, startPair } from '../support/instance-pair.js'
import { waitFor } from '../support/wait-for.js'

const TRIALS = 100
const TIMEOUT_MS = 300
const TOKENS = '/v3/stacks/management_tokens'

/** B has caught up with the token: it allows it (B's projector follows the shared store). */
const usedOnB = async (pair: Pair, apiKey: string, secret: string) =>
  waitFor(async () => (await authorize(pair.b.base, apiKey, secret)) === 200, { label: 'B allows the new token', intervalMs: 5, timeoutMs: 10_000 })

/** The shared store's last position: what the last command appended. */
const lastPosition = (pair: Pair): number => {
  const db = new Database(join(pair.shared, 'events.db'), { readonly: true })
  try {
    return db.prepare('SELECT MAX(position) FROM events').pluck().get() as number
  } finally {
    db.close()
  }
}

for (const via of ['instances.db', 'redis'] as const) {
  t.test(`revoked on A, refused by B's next request (${via})`, async (t) => {
    const pair = await startPair(t, { redis: via === 'redis', env: { PROPAGATION_TIMEOUT_MS: String(TIMEOUT_MS) } })
    const apiKey = await createStack(pair.a.base)
    const allowedAfter: number[] = []
    const unconfirmed: unknown[] = []
    for (let i = 0; i < TRIALS; i += 1) {
      const tok = await generate(pair.a.base, apiKey, `trial-${i}`)
      await usedOnB(pair, apiKey, tok.secret)
      const { propagation } = await call(pair.a.base, 'DELETE', `${TOKENS}/${tok.uid}`, apiKey)
      const status = await authorize(pair.b.base, apiKey, tok.secret)
      if (status !== 401) allowedAfter.push(status)
      if (propagation?.instances !== 2 || propagation?.confirmed !== 2) unconfirmed.push(propagation)
    }
    t.same(allowedAfter, [], `B refused the revoked token at once in all ${TRIALS} trials`)
    t.same(unconfirmed, [], 'every revoke was confirmed by both instances')

    // B frozen: its entry is still live (refreshed moments ago), but it applies nothing.
    const frozen = await generate(pair.a.base, apiKey, 'frozen')
    await usedOnB(pair, apiKey, frozen.secret)
    pair.b.child.kill('SIGSTOP')
    let resumed = false
    t.teardown(() => {
      if (!resumed) pair.b.child.kill('SIGCONT')
    })
    const { propagation } = await call(pair.a.base, 'DELETE', `${TOKENS}/${frozen.uid}`, apiKey)
    const revokedAt = lastPosition(pair)
    t.match(propagation, { instances: 2, confirmed: 1 }, 'answered without B: one short')
    t.ok(propagation.ms >= TIMEOUT_MS, `answered once the timeout had passed (${propagation.ms} ms)`)
    pair.b.child.kill('SIGCONT')
    resumed = true
    // Resumed, B applies the revocation at its next read of the store; its readiness says how far it is.
    await waitFor(async () => ((await call(pair.b.base, 'GET', '/readyz')).position as number) >= revokedAt, { label: 'B applied the revocation', intervalMs: 5 })
    t.equal(await authorize(pair.b.base, apiKey, frozen.secret), 401, 'B, resumed, refuses the token')
    const after = await generate(pair.a.base, apiKey, 'after')
    await usedOnB(pair, apiKey, after.secret)
    const again = await call(pair.a.base, 'DELETE', `${TOKENS}/${after.uid}`, apiKey)
    t.match(again.propagation, { instances: 2, confirmed: 2 }, 'B confirms again once resumed')
  })
}

import { performance } from 'node:perf_hooks'
import t from 'tap'
import { createAuthorizer, type Decision } from '../../src/authorizer/decide.js'
import { denialAnswer } from '../../src/authorizer/denial.js'
import { appOver } from '../support/app-over.js'
import { authorizerFixture, input } from '../support/authorizer-fixtures.js'
import { waitFor } from '../support/wait-for.js'

const generous = { planReadLimit: 100_000, planWriteLimit: 100_000 }

t.test('a change whose events are projected is enforced by the next request', async (t) => {
  const f = await authorizerFixture(t, generous)
  const app = await appOver(t, f.deps)
  const apiKey = await f.createStack()
  const tok = await f.generateToken(apiKey, { scope: [{ module: 'entry', acl: { read: true, write: true } }] })
  const ask = async (secret: string, uri = '/v3/content_types/a/entries') => {
    const res = await app.inject({
      method: 'GET',
      url: '/v3/authorize',
      headers: { api_key: apiKey, authorization: secret, 'x-forwarded-method': 'GET', 'x-forwarded-uri': uri },
    })
    return res
  }
  t.equal((await ask(tok.secret)).statusCode, 200)

  await f.changeScope(apiKey, tok.uid, [{ module: 'asset', acl: { read: true, write: false } }])
  t.equal((await ask(tok.secret)).statusCode, 403, 'scope change: entries no longer allowed')
  t.equal((await ask(tok.secret, '/v3/assets')).statusCode, 200, 'scope change: assets allowed')

  await f.changeLimits(apiKey, tok.uid, { read: 7, write: 1 })
  t.equal((await ask(tok.secret, '/v3/assets')).headers['x-ratelimit-limit'], '7', 'limit change')

  await f.changeExpiry(apiKey, tok.uid, new Date(f.clock.ms).toISOString())
  t.equal((await ask(tok.secret, '/v3/assets')).json().error_code, 106, 'expiry change')
  await f.changeExpiry(apiKey, tok.uid, null)

  const { secret } = await f.rotate(apiKey, tok.uid, tok.secret, 0)
  t.equal((await ask(tok.secret, '/v3/assets')).statusCode, 401, 'rotation without grace: the old secret is out')
  t.equal((await ask(secret, '/v3/assets')).statusCode, 200, 'rotation: the new secret works')

  await f.revoke(apiKey, tok.uid)
  t.equal((await ask(secret, '/v3/assets')).statusCode, 401, 'revocation')
})

t.test('a second instance on the same event store applies changes within a bounded delay', async (t) => {
  const f = await authorizerFixture(t, generous)
  const apiKey = await f.createStack()
  const tok = await f.generateToken(apiKey)
  const b = await f.secondInstance(20)
  const onB = createAuthorizer(b.deps)
  const decideOnB = (secret: string, path = '/v3/assets') => onB.authorize(input({ apiKey, authorization: secret, path })) as Decision
  t.equal(decideOnB(tok.secret).allowed, true, 'B knows the token')

  const BOUND_MS = 2000
  const measure = async (label: string, change: () => Promise<unknown>, applied: () => boolean) => {
    const started = performance.now()
    await change() // appended and projected on instance A
    await waitFor(applied, { timeoutMs: BOUND_MS, intervalMs: 1, label })
    const delay = performance.now() - started
    t.comment(`${label}: applied by the second instance ${delay.toFixed(1)} ms after the append (poll interval 20 ms)`)
    t.ok(delay < BOUND_MS, `${label} within ${BOUND_MS} ms`)
  }

  await measure('scope change', () => f.changeScope(apiKey, tok.uid, [{ module: 'entry', acl: { read: true, write: false } }]), () => !decideOnB(tok.secret).allowed)
  await measure('limit change', () => f.changeLimits(apiKey, tok.uid, { read: 3, write: 1 }), () => {
    const d = decideOnB(tok.secret, '/v3/content_types/a/entries')
    return (d.allowed ? d.headers : denialAnswer(d).headerRecord())['x-ratelimit-limit'] === '3'
  })
  let rotated = ''
  await measure('rotation', async () => {
    rotated = (await f.rotate(apiKey, tok.uid, tok.secret, 0)).secret
  }, () => decideOnB(rotated, '/v3/content_types/a/entries').outcome !== 'unauthorized' && decideOnB(tok.secret).outcome === 'unauthorized')
  await measure('revocation', () => f.revoke(apiKey, tok.uid), () => decideOnB(rotated, '/v3/content_types/a/entries').outcome === 'unauthorized')
})

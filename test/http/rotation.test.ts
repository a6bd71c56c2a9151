import { createHash } from 'node:crypto'
import t, { type Test } from 'tap'
import { ADMIN, DEVELOPER, OWNER, START, startApp, type TestApp } from '../support/app.js'

const TOKENS = '/v3/stacks/management_tokens'
const HOUR = 3600_000
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')

const setup = async (t: Test) => {
  const a = await startApp(t, { clock: true })
  const apiKey = await a.createStack()
  await a.share(apiKey, OWNER, ADMIN, ['admin'])
  await a.share(apiKey, OWNER, DEVELOPER, ['developer'])
  return { a, apiKey }
}

/** Whether the authorizer lets `secret` read entries now. */
const works = async (a: TestApp, apiKey: string, secret: string): Promise<number> =>
  (
    await a.call({
      method: 'GET',
      url: '/v3/authorize',
      headers: { api_key: apiKey, authorization: secret, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v3/content_types/a/entries' },
    })
  ).statusCode

const rotate = (a: TestApp, apiKey: string, uid: string, grace: number, as = OWNER) =>
  a.call({ method: 'POST', url: `${TOKENS}/${uid}/rotate`, as, apiKey, body: { previous_expires_in_seconds: grace } })
const endGrace = (a: TestApp, apiKey: string, uid: string, as = OWNER, headers: Record<string, string> = {}) =>
  a.call({ method: 'DELETE', url: `${TOKENS}/${uid}/previous_secret`, as, apiKey, headers })

t.test('rotating an expired or revoked token is 422 naming the field at fault, and appends nothing', async (t) => {
  const { a, apiKey } = await setup(t)
  const expiring = await a.generate(apiKey, OWNER, { expires_on: new Date(START.getTime() + HOUR).toISOString() })
  const gone = await a.generate(apiKey, OWNER)
  t.equal((await a.call({ method: 'DELETE', url: `${TOKENS}/${gone.uid}`, as: OWNER, apiKey })).statusCode, 200)
  a.clock?.advance(HOUR)
  const before = await a.eventTypes(apiKey)

  const expired = await rotate(a, apiKey, expiring.uid, 60)
  t.equal(expired.statusCode, 422, expired.body)
  t.equal(expired.json().error_code, 119)
  t.same(Object.keys(expired.json().errors), ['expires_on'], 'the expiry is at fault')
  t.match(expired.json().error_message, /expired at .*extend its expiry/)

  const revoked = await rotate(a, apiKey, gone.uid, 0)
  t.equal(revoked.statusCode, 422, revoked.body)
  t.equal(revoked.json().error_code, 119)
  t.same(revoked.json().errors, { uid: ['is revoked: a revoked token cannot be rotated'] })
  t.same(await a.eventTypes(apiKey), before, 'nothing appended')
  t.equal(await works(a, apiKey, expiring.secret), 401, 'the expired secret still does not work')

  const extended = await a.call({ method: 'PUT', url: `${TOKENS}/${expiring.uid}`, as: OWNER, apiKey, body: { token: { expires_on: '2027-01-01' } } })
  t.equal(extended.statusCode, 200, 'an expired token can have its expiry extended')
  t.equal((await rotate(a, apiKey, expiring.uid, 0)).statusCode, 200, 'and then be rotated')
})

t.test('DELETE .../previous_secret ends the grace: the previous secret stops at once, the new one works', async (t) => {
  const { a, apiKey } = await setup(t)
  const tok = await a.generate(apiKey, OWNER)
  const rotated = await rotate(a, apiKey, tok.uid, 24 * 3600)
  t.equal(rotated.statusCode, 200, rotated.body)
  const fresh = rotated.json().token.token as string
  const until = new Date(START.getTime() + 24 * HOUR).toISOString()
  t.equal(rotated.json().token.previous_secret_expires_at, until, 'the token says until when the previous secret works')
  const listed = await a.call({ method: 'GET', url: TOKENS, as: OWNER, apiKey })
  t.equal(listed.json().tokens[0].previous_secret_expires_at, until, 'in the list too')
  t.equal(await works(a, apiKey, tok.secret), 200, 'the previous secret works during the grace')

  const dev = await endGrace(a, apiKey, tok.uid, DEVELOPER)
  t.equal(dev.statusCode, 403, 'a developer may not')

  const ended = await endGrace(a, apiKey, tok.uid, ADMIN)
  t.equal(ended.statusCode, 200, ended.body)
  t.equal(ended.json().notice, 'Rotation grace ended: the previous secret no longer works.')
  t.equal(ended.json().token.previous_secret_expires_at, null)
  t.notOk('token' in ended.json().token, 'no secret in the answer')
  t.equal(await works(a, apiKey, tok.secret), 401, 'the very next request with the previous secret is refused')
  t.equal(await works(a, apiKey, fresh), 200, 'the new secret works')
  t.same(
    a.service.readDb.prepare('SELECT secret_hash, valid_until FROM token_secrets WHERE token_uid = ?').all(tok.uid),
    [{ secret_hash: sha256(fresh), valid_until: null }],
    'only the current secret is left in the authorizer read model',
  )
  const types = await a.eventTypes(apiKey)
  t.equal(types.at(-1), 'RotationGraceEnded')

  const again = await endGrace(a, apiKey, tok.uid)
  t.equal(again.statusCode, 422, 'no grace runs any more')
  t.same(again.json().errors, { previous_secret: ['no rotation grace is running'] })
  t.same(await a.eventTypes(apiKey), types, 'nothing appended')

  const audit = await a.call({ method: 'GET', url: '/v3/audit-logs?event_type=end_rotation_grace', as: OWNER, apiKey })
  t.match(audit.json().logs, [{ module: 'management_token', event_type: 'end_rotation_grace', created_by: 'u-admin', metadata: { uid: tok.uid } }], 'audited')
})

t.test('DELETE .../previous_secret without a grace: 422; unknown or revoked token: 404; replayed with its key', async (t) => {
  const { a, apiKey } = await setup(t)
  const tok = await a.generate(apiKey, OWNER)
  const never = await endGrace(a, apiKey, tok.uid)
  t.equal(never.statusCode, 422, 'never rotated')
  t.equal(never.json().error_code, 119)
  t.same(never.json().errors, { previous_secret: ['no rotation grace is running'] })
  t.equal((await rotate(a, apiKey, tok.uid, 0)).statusCode, 200)
  t.equal((await endGrace(a, apiKey, tok.uid)).statusCode, 422, 'rotated without grace')
  t.equal((await rotate(a, apiKey, tok.uid, 60)).statusCode, 200)
  a.clock?.advance(60_000)
  t.equal((await endGrace(a, apiKey, tok.uid)).statusCode, 422, 'the grace is over by itself')

  t.equal((await rotate(a, apiKey, tok.uid, 60)).statusCode, 200)
  const first = await endGrace(a, apiKey, tok.uid, OWNER, { 'idempotency-key': 'end-1' })
  const replay = await endGrace(a, apiKey, tok.uid, OWNER, { 'idempotency-key': 'end-1' })
  t.equal(replay.statusCode, 200)
  t.equal(replay.headers['idempotent-replayed'], 'true')
  // Ending a grace is confirmed by every live instance, on a replay too (it says the change holds now).
  const { propagation: firstPropagation, ...firstBody } = first.json()
  const { propagation: replayPropagation, ...replayBody } = replay.json()
  t.same(replayBody, firstBody, 'the replay answers as the first run did')
  t.match(firstPropagation, { instances: 1, confirmed: 1, ms: Number }, 'a lone instance confirms the end of the grace')
  t.match(replayPropagation, { instances: 1, confirmed: 1, ms: Number }, 'and confirms it again on the replay')

  const unknown = await endGrace(a, apiKey, 'blt0000000000000000')
  t.equal(unknown.statusCode, 404)
  t.equal(unknown.json().error_code, 141)
  t.equal((await a.call({ method: 'DELETE', url: `${TOKENS}/${tok.uid}`, as: OWNER, apiKey })).statusCode, 200)
  t.equal((await endGrace(a, apiKey, tok.uid)).statusCode, 404, 'a revoked token is gone')
})

import t, { type Test } from 'tap'
import { stackStream } from '../../src/eventstore/streams.js'
import { ADMIN, DEVELOPER, OWNER, START, startApp, type TestApp } from '../support/app.js'

const POLICY = '/v3/stacks/management_token_policy'
const TOKENS = '/v3/stacks/management_tokens'
const DAY = 86_400_000
const NONE = { max_lifetime_days: null, require_expiry: null, inactive_days: null, default_rotation_grace_seconds: null }
const inDays = (days: number) => new Date(START.getTime() + days * DAY).toISOString()

const setup = async (t: Test) => {
  const a = await startApp(t, { clock: true })
  const apiKey = await a.createStack()
  await a.share(apiKey, OWNER, ADMIN, ['admin'])
  await a.share(apiKey, OWNER, DEVELOPER, ['developer'])
  return { a, apiKey }
}
const setPolicy = (a: TestApp, apiKey: string, policy: Record<string, unknown>, as = OWNER) => a.call({ method: 'PUT', url: POLICY, as, apiKey, body: { policy } })
const getPolicy = (a: TestApp, apiKey: string, as = OWNER) => a.call({ method: 'GET', url: POLICY, as, apiKey })
const create = (a: TestApp, apiKey: string, token: Record<string, unknown>) =>
  a.call({ method: 'POST', url: TOKENS, as: OWNER, apiKey, body: { token: { name: `t${Math.random()}`, scope: [{ module: 'entry', acl: { read: true } }], ...token } } })
const authorize = (a: TestApp, apiKey: string, secret: string) =>
  a.call({ method: 'GET', url: '/v3/authorize', headers: { api_key: apiKey, authorization: secret, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v3/content_types/a/entries' } })

t.test('GET answers every rule, null when unset; the owner sets them, admins read, developers neither', async (t) => {
  const { a, apiKey } = await setup(t)
  t.same((await getPolicy(a, apiKey)).json(), { policy: NONE })
  const set = await setPolicy(a, apiKey, { max_lifetime_days: 90, require_expiry: true })
  t.equal(set.statusCode, 200, set.body)
  const expected = { ...NONE, max_lifetime_days: 90, require_expiry: true }
  t.same(set.json(), { notice: 'Management token policy updated successfully.', policy: expected })
  t.same((await getPolicy(a, apiKey, ADMIN)).json(), { policy: expected }, 'an admin reads it')
  t.same((await setPolicy(a, apiKey, { inactive_days: 30 })).json().policy, { ...expected, inactive_days: 30 }, 'a rule left out is unchanged')
  t.same((await setPolicy(a, apiKey, { max_lifetime_days: null })).json().policy, { ...expected, inactive_days: 30, max_lifetime_days: null }, 'null lifts a rule')

  const before = await a.eventTypes(apiKey)
  const admin = await setPolicy(a, apiKey, { max_lifetime_days: 1 }, ADMIN)
  t.equal(admin.statusCode, 403)
  t.equal(admin.json().error_code, 162)
  t.match(admin.json().error_message, /Only the stack owner/)
  const adminBad = await setPolicy(a, apiKey, { max_lifetime_days: 'x' }, ADMIN)
  t.equal(adminBad.statusCode, 403, 'an admin is refused before the body is read')
  for (const call of [getPolicy(a, apiKey, DEVELOPER), setPolicy(a, apiKey, { max_lifetime_days: 1 }, DEVELOPER)]) {
    const r = await call
    t.equal(r.statusCode, 403)
    t.equal(r.json().error_code, 162)
  }
  t.same(await a.eventTypes(apiKey), before, 'nothing appended')
  const again = await setPolicy(a, apiKey, { require_expiry: true })
  t.equal(again.statusCode, 200)
  t.same(await a.eventTypes(apiKey), before, 'a PUT that changes nothing appends nothing')
})

t.test('each rule out of bounds is 422 naming it, and appends nothing', async (t) => {
  const { a, apiKey } = await setup(t)
  const before = await a.eventTypes(apiKey)
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ max_lifetime_days: 0 }, 'policy.max_lifetime_days'],
    [{ max_lifetime_days: 3651 }, 'policy.max_lifetime_days'],
    [{ max_lifetime_days: 1.5 }, 'policy.max_lifetime_days'],
    [{ max_lifetime_days: '90' }, 'policy.max_lifetime_days'],
    [{ inactive_days: 6 }, 'policy.inactive_days'],
    [{ inactive_days: 3651 }, 'policy.inactive_days'],
    [{ default_rotation_grace_seconds: -1 }, 'policy.default_rotation_grace_seconds'],
    [{ default_rotation_grace_seconds: 604_801 }, 'policy.default_rotation_grace_seconds'],
    [{ require_expiry: 'yes' }, 'policy.require_expiry'],
    [{ unknown_rule: 1 }, 'policy.unknown_rule'],
  ]
  for (const [policy, field] of cases) {
    const r = await setPolicy(a, apiKey, policy)
    t.equal(r.statusCode, 422, `${JSON.stringify(policy)}: ${r.body}`)
    t.equal(r.json().error_code, 119)
    t.ok(Object.keys(r.json().errors).includes(field), `${JSON.stringify(policy)} names ${field}: ${r.body}`)
  }
  t.equal((await a.call({ method: 'PUT', url: POLICY, as: OWNER, apiKey, body: { rules: {} } })).statusCode, 422, 'no policy object')
  t.same(await a.eventTypes(apiKey), before, 'nothing appended')
  for (const ok of [{ max_lifetime_days: 1 }, { max_lifetime_days: 3650 }, { inactive_days: 7 }, { inactive_days: 3650 }, { default_rotation_grace_seconds: 0 }, { default_rotation_grace_seconds: 604_800 }, { require_expiry: false }]) {
    t.equal((await setPolicy(a, apiKey, ok)).statusCode, 200, JSON.stringify(ok))
  }
})

t.test('require_expiry: creating or editing a token without an expiry is 422 naming expires_on', async (t) => {
  const { a, apiKey } = await setup(t)
  const legacy = await a.generate(apiKey, OWNER)
  t.equal((await setPolicy(a, apiKey, { require_expiry: true })).statusCode, 200)
  const before = await a.eventTypes(apiKey)
  for (const token of [{}, { expires_on: null }]) {
    const r = await create(a, apiKey, token)
    t.equal(r.statusCode, 422, r.body)
    t.same(Object.keys(r.json().errors), ['token.expires_on'])
    t.match(r.json().error_message, /require_expiry/)
  }
  const renamed = await a.call({ method: 'PUT', url: `${TOKENS}/${legacy.uid}`, as: OWNER, apiKey, body: { token: { name: 'renamed' } } })
  t.equal(renamed.statusCode, 422, 'an edit leaves the token within the policy or is refused')
  t.same(Object.keys(renamed.json().errors), ['token.expires_on'])
  t.same(await a.eventTypes(apiKey), before, 'nothing appended')
  t.equal((await authorize(a, apiKey, legacy.secret)).statusCode, 200, 'require_expiry alone does not refuse an existing token at use')

  const dated = await create(a, apiKey, { expires_on: inDays(10) })
  t.equal(dated.statusCode, 201, dated.body)
  const cleared = await a.call({ method: 'PUT', url: `${TOKENS}/${dated.json().token.uid}`, as: OWNER, apiKey, body: { token: { expires_on: null } } })
  t.equal(cleared.statusCode, 422)
  t.same(Object.keys(cleared.json().errors), ['token.expires_on'])
  const fixed = await a.call({ method: 'PUT', url: `${TOKENS}/${legacy.uid}`, as: OWNER, apiKey, body: { token: { name: 'renamed', expires_on: inDays(5) } } })
  t.equal(fixed.statusCode, 200, fixed.body)
})

t.test('max_lifetime_days: at creation and edit; an older token outliving it is refused at use until edited', async (t) => {
  const { a, apiKey } = await setup(t)
  const forever = await a.generate(apiKey, OWNER)
  const long = await a.generate(apiKey, OWNER, { expires_on: inDays(100) })
  const short = await a.generate(apiKey, OWNER, { expires_on: inDays(20) })
  t.equal((await setPolicy(a, apiKey, { max_lifetime_days: 30 })).statusCode, 200)

  const tooLong = await create(a, apiKey, { expires_on: inDays(31) })
  t.equal(tooLong.statusCode, 422)
  t.same(Object.keys(tooLong.json().errors), ['token.expires_on'])
  t.match(tooLong.json().error_message, /at most 30 days.*max_lifetime_days/)
  t.equal((await create(a, apiKey, { expires_on: inDays(30) })).statusCode, 201, 'exactly the maximum is allowed')

  for (const secret of [forever.secret, long.secret]) {
    const r = await authorize(a, apiKey, secret)
    t.equal(r.statusCode, 401)
    t.equal(r.json().error_code, 106)
    t.match(r.json().error_message, /maximum lifetime of 30 days \(max_lifetime_days\)/)
  }
  t.equal((await authorize(a, apiKey, short.secret)).statusCode, 200, 'a token within the policy works')

  const rotated = await a.call({ method: 'POST', url: `${TOKENS}/${forever.uid}/rotate`, as: OWNER, apiKey })
  t.equal(rotated.statusCode, 422, 'a token refused at use is not rotated')
  t.same(Object.keys(rotated.json().errors), ['expires_on'])
  t.match(rotated.json().error_message, /max|maximum lifetime of 30 days/)

  a.clock?.advance(10 * DAY)
  const stillLong = await a.call({ method: 'PUT', url: `${TOKENS}/${long.uid}`, as: OWNER, apiKey, body: { token: { expires_on: inDays(31) } } })
  t.equal(stillLong.statusCode, 422, 'the lifetime counts from the creation, not from the edit')
  t.same(Object.keys(stillLong.json().errors), ['token.expires_on'])
  t.equal((await a.call({ method: 'PUT', url: `${TOKENS}/${long.uid}`, as: OWNER, apiKey, body: { token: { expires_on: inDays(30) } } })).statusCode, 200)
  t.equal((await authorize(a, apiKey, long.secret)).statusCode, 200, 'edited to comply, it works again')
  t.equal((await setPolicy(a, apiKey, { max_lifetime_days: null })).statusCode, 200)
  t.equal((await authorize(a, apiKey, forever.secret)).statusCode, 200, 'lifting the rule lets it work again')
})

t.test('default_rotation_grace_seconds is the grace of a rotation that names none', async (t) => {
  const { a, apiKey } = await setup(t)
  const tok = await a.generate(apiKey, OWNER)
  t.equal((await setPolicy(a, apiKey, { default_rotation_grace_seconds: 3600 })).statusCode, 200)
  const r = await a.call({ method: 'POST', url: `${TOKENS}/${tok.uid}/rotate`, as: OWNER, apiKey })
  t.equal(r.statusCode, 200, r.body)
  t.equal(r.json().token.previous_secret_expires_at, new Date(START.getTime() + 3600_000).toISOString())
  t.equal((await authorize(a, apiKey, tok.secret)).statusCode, 200, 'the previous secret works during the default grace')
  const named = await a.call({ method: 'POST', url: `${TOKENS}/${tok.uid}/rotate`, as: OWNER, apiKey, body: { previous_expires_in_seconds: 0 } })
  t.equal(named.json().token.previous_secret_expires_at, null, 'a grace named wins over the default')
})

t.test('the audit log lists a policy change as update_policy, with what changed', async (t) => {
  const { a, apiKey } = await setup(t)
  await setPolicy(a, apiKey, { max_lifetime_days: 90 })
  await setPolicy(a, apiKey, { max_lifetime_days: 30, require_expiry: true })
  const r = await a.call({ method: 'GET', url: '/v3/audit-logs?event_type=update_policy', as: OWNER, apiKey })
  t.equal(r.statusCode, 200, r.body)
  const [last, first] = r.json().logs
  t.match(last, { module: 'stack', event_type: 'update_policy', metadata: { uid: apiKey, changed: ['max_lifetime_days', 'require_expiry'], before: { max_lifetime_days: 90, require_expiry: null }, after: { max_lifetime_days: 30, require_expiry: true } } })
  t.match(first.metadata, { changed: ['max_lifetime_days'], before: { max_lifetime_days: null }, after: { max_lifetime_days: 90 } })
  const recorded = (await a.service.store.readStream(stackStream(apiKey))).filter((e) => e.type === 'StackPolicySet') as Array<{ data: Record<string, unknown> }>
  t.equal(recorded.length, 2, 'one StackPolicySet per change')
  for (const e of recorded) t.same(Object.keys(e.data).sort(), ['api_key', 'before', 'policy'], 'the whole policy, the one it replaced, and nothing else (no secret, no hash)')
})

t.test('a policy change racing token creations: no token violating the new policy is created after it', async (t) => {
  const { a, apiKey } = await setup(t)
  const creations = Array.from({ length: 8 }, () => create(a, apiKey, {}))
  const policy = setPolicy(a, apiKey, { require_expiry: true })
  const more = Array.from({ length: 8 }, () => create(a, apiKey, {}))
  const results = await Promise.all([...creations, policy, ...more])
  t.equal((await policy).statusCode, 200)
  t.ok(results.every((r) => r.statusCode === 200 || r.statusCode === 201 || r.statusCode === 422), 'each answered 201 or 422')
  const events = await a.eventTypes(apiKey)
  const at = events.indexOf('StackPolicySet')
  t.ok(at >= 0)
  t.notOk(events.slice(at + 1).includes('TokenGenerated'), 'no token without expiry was generated after the policy')
  t.equal(results.filter((r) => r.statusCode === 201).length, events.filter((e) => e === 'TokenGenerated').length)
})

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { ADMIN, DEVELOPER, OWNER, START, startApp, type TestApp } from '../support/app.js'

const TOKENS = '/v3/stacks/management_tokens'
const HOUR = 3_600_000
const MINUTE = 60_000

const setup = async (t: Test) => {
  const a = await startApp(t, { clock: true, config: { planReadLimit: 100, trustProxy: true } })
  const apiKey = await a.createStack()
  await a.share(apiKey, OWNER, ADMIN, ['admin'])
  await a.share(apiKey, OWNER, DEVELOPER, ['developer'])
  return { a, apiKey }
}

/** A forward-auth request with `secret` for `uri`: its status. */
const use = async (a: TestApp, apiKey: string, secret: string, uri = '/v3/content_types/a/entries', from = '10.0.4.7'): Promise<number> =>
  (
    await a.call({
      method: 'GET',
      url: '/v3/authorize',
      headers: { api_key: apiKey, authorization: secret, 'x-forwarded-method': 'GET', 'x-forwarded-uri': uri, 'x-forwarded-for': from },
    })
  ).statusCode

const get = (a: TestApp, apiKey: string, url: string, as = OWNER) => a.call({ method: 'GET', url, as, apiKey })

t.test('every decision about a known token is counted by outcome; the usage endpoints and token objects report it after a flush', async (t) => {
  const { a, apiKey } = await setup(t)
  const tok = await a.generate(apiKey, OWNER)
  const unused = await a.generate(apiKey, OWNER)
  const fresh = await get(a, apiKey, `${TOKENS}/${tok.uid}`)
  t.same(
    [fresh.json().token.last_used_at, fresh.json().token.last_used_from, fresh.json().token.previous_secret_last_used_at],
    [null, null, null],
    'never used: null',
  )

  t.equal(await use(a, apiKey, tok.secret), 200)
  t.equal(await use(a, apiKey, tok.secret), 200)
  t.equal(await use(a, apiKey, tok.secret, '/v3/assets'), 403, 'scope denial')
  t.equal(await use(a, apiKey, tok.secret), 200)
  t.equal(await use(a, apiKey, 'cs' + '0'.repeat(32)), 401, 'unknown secret: not counted for any token')
  // Rate-limit windows are the wall clock's seconds: count what the answers were, then compare.
  const busy = await a.generate(apiKey, OWNER, { rate_limit: { read: 1, write: 1 } })
  const answers = { 200: 0, 429: 0 } as Record<number, number>
  for (let i = 0; i < 4; i += 1) {
    const s = await use(a, apiKey, busy.secret)
    answers[s] = (answers[s] ?? 0) + 1
  }
  t.ok(answers[429]! > 0, 'a token limited to one read a second is limited within four')
  a.clock?.advance(2 * MINUTE)
  t.equal(await use(a, apiKey, tok.secret, undefined, '10.0.9.9'), 200, 'a later use, from elsewhere')
  await a.service.usage.flush()

  const one = await get(a, apiKey, `${TOKENS}/${tok.uid}/usage?granularity=minute&from=${new Date(START.getTime() - MINUTE).toISOString()}&to=${new Date(START.getTime() + 5 * MINUTE).toISOString()}`)
  t.equal(one.statusCode, 200, one.body)
  const u = one.json().usage
  t.same(u.totals, { allowed: 4, denied: 1, rate_limited: 0, expired: 0, revoked: 0 })
  t.equal(u.token_uid, tok.uid)
  t.equal(u.granularity, 'minute')
  t.equal(u.from, new Date(START.getTime() - MINUTE).toISOString())
  t.equal(u.series.length, 6, 'one point per minute, zeros included')
  t.same(u.series[1], { at: START.toISOString(), allowed: 3, denied: 1, rate_limited: 0, expired: 0, revoked: 0 })
  t.same(u.series[3], { at: new Date(START.getTime() + 2 * MINUTE).toISOString(), allowed: 1, denied: 0, rate_limited: 0, expired: 0, revoked: 0 })
  const limited = (await get(a, apiKey, `${TOKENS}/${busy.uid}/usage`)).json().usage
  t.same(limited.totals, { allowed: answers[200], denied: 0, rate_limited: answers[429], expired: 0, revoked: 0 }, 'rate-limited answers counted as such')

  const byDefault = (await get(a, apiKey, `${TOKENS}/${tok.uid}/usage`)).json().usage
  t.equal(byDefault.granularity, 'hour', 'default granularity: hour')
  t.equal(byDefault.series.length, 25, 'default range: the last 24 hours, from the hour it starts in')
  t.same(byDefault.totals, u.totals)

  const day = (await get(a, apiKey, `${TOKENS}/${tok.uid}/usage?granularity=day&from=2026-02-01&to=2026-03-02`)).json().usage
  t.equal(day.series.length, 29)
  t.equal(day.series[28].allowed, 4, 'days add up hours')

  const all = await get(a, apiKey, `${TOKENS}/usage`)
  t.equal(all.statusCode, 200, all.body)
  const later = new Date(START.getTime() + 2 * MINUTE).toISOString()
  const byUid = (x: { token_uid: string }, y: { token_uid: string }) => x.token_uid.localeCompare(y.token_uid)
  t.same([...all.json().usage].sort(byUid), [
    { token_uid: tok.uid, name: tok.body.token && (tok.body.token as { name: string }).name, last_used_at: later, totals: u.totals },
    { token_uid: unused.uid, name: (unused.body.token as { name: string }).name, last_used_at: null, totals: { allowed: 0, denied: 0, rate_limited: 0, expired: 0, revoked: 0 } },
    { token_uid: busy.uid, name: (busy.body.token as { name: string }).name, last_used_at: START.toISOString(), totals: limited.totals },
  ].sort(byUid))

  const shown = (await get(a, apiKey, `${TOKENS}/${tok.uid}`)).json().token
  t.equal(shown.last_used_at, later)
  t.equal(shown.last_used_from, '10.0.9.9', 'the trusted address of the last allowed request')
  t.equal(shown.previous_secret_last_used_at, null, 'no grace: null')
  const listed = (await get(a, apiKey, TOKENS)).json().tokens
  t.same(
    new Map(listed.map((x: Record<string, unknown>) => [x.uid, x.last_used_at])),
    new Map([
      [tok.uid, later],
      [unused.uid, null],
      [busy.uid, START.toISOString()],
    ]),
  )
})

t.test('expired and rotated-out secrets count as expired and revoked; the previous secret in its grace shows its own last use', async (t) => {
  const { a, apiKey } = await setup(t)
  const expiring = await a.generate(apiKey, OWNER, { expires_on: new Date(START.getTime() + HOUR).toISOString() })
  const rotating = await a.generate(apiKey, OWNER)
  const rotated = await a.call({ method: 'POST', url: `${TOKENS}/${rotating.uid}/rotate`, as: OWNER, apiKey, body: { previous_expires_in_seconds: 3600 } })
  t.equal(rotated.statusCode, 200)
  t.equal(await use(a, apiKey, rotating.secret), 200, 'the previous secret in its grace')
  await a.service.usage.flush()
  const during = (await get(a, apiKey, `${TOKENS}/${rotating.uid}`)).json().token
  t.equal(during.previous_secret_last_used_at, START.toISOString())
  t.equal(during.last_used_at, START.toISOString(), 'a use of the previous secret is a use of the token')

  a.clock?.advance(HOUR + MINUTE)
  t.equal(await use(a, apiKey, expiring.secret), 401)
  t.equal(await use(a, apiKey, rotating.secret), 401)
  await a.service.usage.flush()
  const totals = (await get(a, apiKey, `${TOKENS}/usage?from=${START.toISOString()}`)).json().usage
  t.same(
    new Map(totals.map((x: { token_uid: string; totals: unknown }) => [x.token_uid, x.totals])),
    new Map([
      [expiring.uid, { allowed: 0, denied: 0, rate_limited: 0, expired: 1, revoked: 0 }],
      [rotating.uid, { allowed: 1, denied: 0, rate_limited: 0, expired: 0, revoked: 1 }],
    ]),
  )
  const after = (await get(a, apiKey, `${TOKENS}/${rotating.uid}`)).json().token
  t.equal(after.previous_secret_last_used_at, null, 'the grace is over: null, like previous_secret_expires_at')

  const file = readFileSync(join(a.dataDir, 'usage.db')).toString('latin1')
  for (const s of [expiring.secret, rotating.secret, rotated.json().token.token]) t.notOk(file.includes(s) || file.includes(s.slice(2)), 'no secret in usage.db')
})

t.test('only owners and admins read usage; bad from, to and granularity are 422 naming the field', async (t) => {
  const { a, apiKey } = await setup(t)
  const tok = await a.generate(apiKey, OWNER)
  t.equal((await get(a, apiKey, `${TOKENS}/usage`, ADMIN)).statusCode, 200)
  for (const url of [`${TOKENS}/usage`, `${TOKENS}/${tok.uid}/usage`]) {
    const res = await get(a, apiKey, url, DEVELOPER)
    t.equal(res.statusCode, 403, url)
    t.equal(res.json().error_code, 162)
  }
  const bad: Array<[string, string]> = [
    ['from=yesterday', 'from'],
    ['to=2026-13-45', 'to'],
    ['from=2026-03-01T12:00:00Z&to=2026-03-01T11:00:00Z', 'from'],
    ['granularity=week', 'granularity'],
    ['granularity=minute&from=2026-02-20T00:00:00Z', 'from'],
    ['granularity=minute&from=2025-01-01&to=2026-03-01', 'from'],
    ['granularity=hour&from=2024-01-01&to=2026-03-01', 'granularity'],
  ]
  for (const [q, field] of bad) {
    const res = await get(a, apiKey, `${TOKENS}/${tok.uid}/usage?${q}`)
    t.equal(res.statusCode, 422, q)
    t.equal(res.json().error_code, 119)
    t.same(Object.keys(res.json().errors), [field], q)
  }
  t.equal((await get(a, apiKey, `${TOKENS}/usage?to=soon`)).json().errors.to.length, 1)
  const unknown = await get(a, apiKey, `${TOKENS}/blt0000000000000000/usage`)
  t.equal(unknown.statusCode, 404)
  t.equal((await get(a, apiKey, `${TOKENS}/usage`)).json().usage.length, 1, '`usage` is not read as a token uid')
})

t.test('the usage store unreachable (Redis down): tokens are still managed, without last use; usage answers 503', async (t) => {
  const a = await startApp(t, { config: { redisUrl: 'redis://127.0.0.1:1' } })
  const apiKey = await a.createStack()
  const tok = await a.generate(apiKey, OWNER)
  const one = await get(a, apiKey, `${TOKENS}/${tok.uid}`)
  t.equal(one.statusCode, 200)
  t.equal(one.json().token.last_used_at, null)
  for (const url of [`${TOKENS}/usage`, `${TOKENS}/${tok.uid}/usage`]) {
    const res = await get(a, apiKey, url)
    t.equal(res.statusCode, 503, url)
    t.equal(res.json().error_code, 503)
  }
  t.ok(a.logs().some((l) => l.level === 40 && String(l.msg).startsWith('usage store unreachable')), 'logged')
})

t.test('one client address: a spoofed X-Forwarded-For moves neither last_used_from, nor the allow-list, nor the failure limiter', async (t) => {
  for (const trustProxy of [false, ['loopback']] as const) {
    // Behind the trusted loopback proxy, the client is the nearest untrusted hop (10.0.4.7); what
    // the client wrote before it (203.0.113.7) is not believed. With no proxy trusted, forward-auth
    // knows no client at all: the peer is the proxy asking.
    const a = await startApp(t, { clock: true, config: { planReadLimit: 100, authFailureLimit: 2, trustProxy: trustProxy === false ? false : [...trustProxy] } })
    const apiKey = await a.createStack()
    const open = await a.generate(apiKey, OWNER)
    const spoofedList = await a.generate(apiKey, OWNER, { allowed_ips: ['203.0.113.7'] })
    const clientList = await a.generate(apiKey, OWNER, { allowed_ips: ['10.0.4.7'] })
    const xff = '203.0.113.7, 10.0.4.7'
    const trusted = trustProxy !== false
    t.equal(await use(a, apiKey, open.secret, undefined, xff), 200)
    t.equal(await use(a, apiKey, spoofedList.secret, undefined, xff), 403, `${JSON.stringify(trustProxy)}: the spoofed address does not satisfy a list`)
    t.equal(await use(a, apiKey, clientList.secret, undefined, xff), trusted ? 200 : 403, `${JSON.stringify(trustProxy)}: the trusted client does, when there is one`)
    await a.service.usage.flush()
    const shown = (await get(a, apiKey, `${TOKENS}/${open.uid}`)).json().token
    t.equal(shown.last_used_from, trusted ? '10.0.4.7' : null, `${JSON.stringify(trustProxy)}: last_used_from is the address the allow-list is checked against`)
    // Failed authentications: counted by the same address (by the peer when there is none), so
    // a new spoofed hop per guess does not dodge the limiter.
    const guesses = []
    for (const spoof of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) guesses.push(await use(a, apiKey, 'cs' + '0'.repeat(32), undefined, `${spoof}, 10.0.4.7`))
    t.same(guesses, [401, 401, 429], `${JSON.stringify(trustProxy)}: the third guess from one client is throttled`)
  }
})

t.test("attempts with a revoked token's secret count as revoked for it; the answer is still an unknown secret's", async (t) => {
  const { a, apiKey } = await setup(t)
  const other = await a.createStack()
  const doomed = await a.generate(apiKey, OWNER)
  const rotated = await a.call({ method: 'POST', url: `${TOKENS}/${doomed.uid}/rotate`, as: OWNER, apiKey, body: { previous_expires_in_seconds: 3600 } })
  const current = rotated.json().token.token as string
  t.equal(await use(a, apiKey, current), 200)
  t.equal((await a.call({ method: 'DELETE', url: `${TOKENS}/${doomed.uid}`, as: OWNER, apiKey })).statusCode, 200)

  const answer = async (key: string, secret: string) => {
    const res = await a.call({ method: 'GET', url: '/v3/authorize', headers: { api_key: key, authorization: secret, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v3/assets', 'x-forwarded-for': '10.0.4.7' } })
    return { status: res.statusCode, body: res.body, code: res.json().error_code as number }
  }
  const unknown = await answer(apiKey, 'cs' + '1'.repeat(32))
  t.same(await answer(apiKey, current), unknown, 'the current secret, revoked: answered as an unknown secret')
  t.same(await answer(apiKey, doomed.secret), unknown, 'the rotated-out secret in its grace, revoked: the same')
  t.same(await answer(other, current), unknown, 'in another stack: the same, and not counted')
  t.equal(unknown.status, 401)
  await a.service.usage.flush()
  const counted = await a.service.usage.buckets('minute', [doomed.uid], START.getTime() - MINUTE, START.getTime() + MINUTE)
  t.same(
    counted.map((b) => [b.allowed, b.denied, b.rate_limited, b.expired, b.revoked]),
    [[1, 0, 0, 0, 2]],
    'the allowed request before, and the two attempts with its secrets after',
  )
  const shown = await a.service.usage.lastUse([doomed.uid])
  t.equal(shown.get(doomed.uid)?.at, START.getTime(), 'an attempt after revocation is no use: the last use stays')
  const read = await get(a, apiKey, `${TOKENS}/${doomed.uid}/usage`)
  t.equal(read.statusCode, 200, "the revoked token's usage stays readable")
  t.same(read.json().usage.totals, { allowed: 1, denied: 0, rate_limited: 0, expired: 0, revoked: 2 }, 'with the attempts after its revocation')
  t.equal((await get(a, other, `${TOKENS}/${doomed.uid}/usage`)).statusCode, 404, "not through another stack's api_key")
  t.notOk((await get(a, apiKey, `${TOKENS}/usage`)).json().usage.some((u: { token_uid: string }) => u.token_uid === doomed.uid), 'the totals of every token list live tokens only')
})

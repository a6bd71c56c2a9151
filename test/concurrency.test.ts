import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { decodeOrThrow } from '../src/domain/decode.js'
import { stackStream } from '../src/eventstore/streams.js'
import { fold } from '../src/domain/state.js'
import type { EventStore } from '../src/eventstore/port.js'
import { ADMIN, FaultyStore, OWNER, READ_ENTRIES, startApp, type TestApp } from './support/app.js'

/**
 * The invariants hold when requests race (the live-token limit, unique names, no lost update,
 * only an owner or admin generates), on one instance (its per-stack queue) and across two
 * instances sharing one SQLite event file (only the store's expected-revision check stands
 * between them there).
 */
const TOKENS = '/v3/stacks/management_tokens'

/** Two services, each with its own read models, on one SQLite event file; appends are counted. */
const twoInstances = async (t: Test) => {
  const stores: FaultyStore[] = []
  const counted = (s: EventStore) => {
    const c = new FaultyStore(s)
    c.yieldAfterRead = true
    stores.push(c)
    return c
  }
  const a = await startApp(t, { wrapStore: counted })
  const b = await startApp(t, { wrapStore: counted, eventStoreUrl: `sqlite:${join(a.dataDir, 'events.db')}` })
  const conflicts = () => stores.reduce((n, s) => n + s.conflicts, 0)
  t.teardown(() => t.comment(`version conflicts caught by the store and retried: ${conflicts()}`))
  return { a, b, conflicts }
}

/** The stack as the store knows it: decoded, folded. */
const history = async (app: TestApp, apiKey: string) => {
  const recorded = (await app.service.store.readStream(stackStream(apiKey))).map(decodeOrThrow)
  return { recorded, state: fold(recorded.map((r) => r.event)) }
}

const liveTokenCount = async (app: TestApp, apiKey: string) => {
  const { state } = await history(app, apiKey)
  return state.status === 'active' ? [...state.tokens.values()].filter((tk) => !tk.revoked).length : -1
}

/** Waits until an instance's read models include everything in the store (no sleeping). */
const caughtUp = async (app: TestApp, apiKey: string) => {
  const { recorded } = await history(app, apiKey)
  const last = recorded[recorded.length - 1]
  if (!last) return
  // Another instance's appends arrive by the store's poll, whose timer is unref'd: hold the loop open.
  const keepAlive = setInterval(() => undefined, 1000)
  try {
    await app.service.projector.waitFor(last.position)
  } finally {
    clearInterval(keepAlive)
  }
}

const tally = (responses: readonly LightMyRequestResponse[]) => {
  const by: Record<number, number> = {}
  for (const r of responses) by[r.statusCode] = (by[r.statusCode] ?? 0) + 1
  return by
}

const generateRequest = (app: TestApp, apiKey: string, i: number, as = OWNER) =>
  app.call({ method: 'POST', url: TOKENS, as, apiKey, body: { token: { name: `token-${i}`, scope: READ_ENTRIES } } })

const checkThirty = async (t: Test, responses: LightMyRequestResponse[], a: TestApp, apiKey: string) => {
  const by = tally(responses)
  const created = by[201] ?? 0
  const rejected = by[422] ?? 0
  const conflicts = by[409] ?? 0
  t.comment(`201: ${created}, 422: ${rejected}, 409 (retry budget spent): ${conflicts}`)
  t.same(Object.keys(by).filter((s) => !['201', '422', '409'].includes(s)), [], 'no other status')
  for (const r of responses.filter((x) => x.statusCode === 422)) t.match(r.json().errors.token, [/limit of 30/])
  t.equal(await liveTokenCount(a, apiKey), created, 'every 201 is a live token, and nothing else is')
  t.equal(created + rejected + conflicts, 40)
  if (conflicts === 0) {
    t.equal(created, 30, 'exactly 30 live tokens')
    t.equal(rejected, 10, 'exactly 10 rejections')
  } else {
    t.ok(created <= 30, 'never more than 30')
    t.equal(rejected, 40 - created - conflicts)
  }
  await caughtUp(a, apiKey)
  const list = await a.call({ method: 'GET', url: TOKENS, as: OWNER, apiKey })
  t.equal(list.json().tokens.length, created, 'the list agrees')
}

t.test('40 concurrent GenerateToken on one instance: exactly 30 live tokens, 10 rejections', async (t) => {
  const a = await startApp(t)
  const apiKey = await a.createStack()
  const responses = await Promise.all(Array.from({ length: 40 }, (_, i) => generateRequest(a, apiKey, i)))
  await checkThirty(t, responses, a, apiKey)
  t.same(tally(responses), { 201: 30, 422: 10 }, 'one instance serialises a stack: no conflicts at all')
})

t.test('40 concurrent GenerateToken across two instances sharing one event store', async (t) => {
  const { a, b } = await twoInstances(t)
  const apiKey = await a.createStack()
  await caughtUp(b, apiKey)
  const responses = await Promise.all(Array.from({ length: 40 }, (_, i) => generateRequest(i % 2 === 0 ? a : b, apiKey, i)))
  await checkThirty(t, responses, a, apiKey)
  await caughtUp(a, apiKey)
  await caughtUp(b, apiKey)
  const names = (app: TestApp) => app.call({ method: 'GET', url: TOKENS, as: OWNER, apiKey }).then((r) => r.json().tokens.map((x: { uid: string }) => x.uid).sort())
  t.same(await names(b), await names(a), 'both instances list the same tokens')
})

t.test('concurrent name clashes across instances: one live token per name', async (t) => {
  const { a, b } = await twoInstances(t)
  const apiKey = await a.createStack()
  await caughtUp(b, apiKey)
  const responses = await Promise.all(
    Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).call({ method: 'POST', url: TOKENS, as: OWNER, apiKey, body: { token: { name: 'same', scope: READ_ENTRIES } } })),
  )
  t.equal(tally(responses)[201], 1, 'one winner')
  t.equal(await liveTokenCount(a, apiKey), 1)
})

const FIELDS = [
  ['name', 'renamed'],
  ['description', 'described'],
  ['scope', [{ module: 'asset', acl: { read: true, write: true } }]],
  ['expires_on', '2099-01-01'],
  ['rate_limit', { read: 3, write: 2 }],
  ['is_email_notification_enabled', true],
] as const

const concurrentPuts = async (t: Test, apps: readonly TestApp[]) => {
  const [a] = apps as [TestApp]
  const apiKey = await a.createStack()
  const tok = await a.generate(apiKey, OWNER, { name: 'original', description: 'original' })
  for (const other of apps) await caughtUp(other, apiKey)
  const rounds = 3
  const requests = []
  for (let round = 0; round < rounds; round += 1)
    for (const [i, [field, value]] of FIELDS.entries()) {
      const v = typeof value === 'string' && field !== 'expires_on' ? `${value}-${round}` : value
      const app = apps[(round * FIELDS.length + i) % apps.length] as TestApp
      requests.push(app.call({ method: 'PUT', url: `${TOKENS}/${tok.uid}`, as: OWNER, apiKey, body: { token: { [field]: v } } }))
    }
  const responses = await Promise.all(requests)
  const by = tally(responses)
  t.comment(`PUT statuses: ${JSON.stringify(by)}`)
  t.same(Object.keys(by).filter((s) => s !== '200' && s !== '409'), [], 'only 200 (or 409 with the budget spent)')
  const { state } = await history(a, apiKey)
  const final = state.status === 'active' ? state.tokens.get(tok.uid) : undefined
  t.match(final, {
    name: /^renamed-\d$/,
    description: /^described-\d$/,
    scope: [{ module: 'asset', acl: { read: true, write: true } }],
    expires_on: '2099-01-01T00:00:00.000Z',
    rate_limit: { read: 3, write: 2 },
    is_email_notification_enabled: true,
  }, 'no change was lost')
  await caughtUp(a, apiKey)
  const shown = (await a.call({ method: 'GET', url: `${TOKENS}/${tok.uid}`, as: OWNER, apiKey })).json().token
  t.match(shown, { name: final?.name, description: final?.description, rate_limit: { read: 3, write: 2 }, is_email_notification_enabled: true })
  const { recorded } = await history(a, apiKey)
  const types = recorded.map((r) => r.event.type)
  for (const type of ['TokenScopeChanged', 'TokenExpiryChanged', 'TokenLimitsChanged', 'TokenNotificationChanged'])
    t.equal(types.filter((x) => x === type).length, 1, `${type} once: repeats of the same value append nothing`)
}

t.test('concurrent PUTs of different fields of one token lose no change (one instance)', async (t) => {
  await concurrentPuts(t, [await startApp(t)])
})

t.test('concurrent PUTs of different fields of one token lose no change (two instances)', async (t) => {
  const { a, b } = await twoInstances(t)
  await concurrentPuts(t, [a, b])
})

const unshareRace = async (t: Test, adminApps: readonly TestApp[], owners: TestApp, apiKey: string) => {
  const on = (i: number) => adminApps[i % adminApps.length] as TestApp
  // The unshare is sent in the middle of the admin's burst.
  const before = Array.from({ length: 15 }, (_, i) => generateRequest(on(i), apiKey, i, ADMIN))
  // A client told 409 "try again" does so; each try races the burst anew.
  let unshareConflicts = 0
  const unshare = (async () => {
    for (;;) {
      const r = await owners.call({ method: 'POST', url: '/v3/stacks/unshare', as: OWNER, apiKey, body: { email: ADMIN } })
      if (r.statusCode !== 409 || unshareConflicts >= 20) return r
      unshareConflicts += 1
    }
  })()
  const after = Array.from({ length: 15 }, (_, i) => generateRequest(on(15 + i), apiKey, 15 + i, ADMIN))
  const [unshared, ...responses] = await Promise.all([unshare, ...before, ...after])
  t.equal(unshared?.statusCode, 200)
  const by = tally(responses)
  t.comment(`admin's GenerateToken while being removed: ${JSON.stringify(by)}; the unshare was answered 409 ${unshareConflicts} times`)
  t.same(Object.keys(by).filter((s) => !['201', '403', '422', '409'].includes(s)), [], 'only 201, 403 (or 422/409)')

  const { recorded } = await history(owners, apiKey)
  const removedAt = recorded.findIndex((r) => r.event.type === 'MemberUnshared')
  t.ok(removedAt > 0)
  const byAdmin = recorded.filter((r) => r.event.type === 'TokenGenerated' && r.metadata.actor === 'u-admin')
  t.ok(byAdmin.every((r) => r.revision < (recorded[removedAt]?.revision ?? -1)), 'every token the admin generated is ordered before the unshare')
  const uids = new Set(byAdmin.map((r) => (r.event as { data: { token_uid: string } }).data.token_uid))
  const successes = responses.filter((r) => r.statusCode === 201)
  t.equal(successes.length, byAdmin.length, 'each 201 is one of them, and no event lacks its 201')
  t.ok(successes.every((r) => uids.has(r.json().token.uid)))
  const refused = responses.filter((x) => x.statusCode === 403)
  for (const r of refused) t.match(r.json(), { error_code: 162, errors: { authtoken: [String] } })
  t.comment(`${refused.filter((r) => /Only the stack owner/.test(r.body)).length} refused by the decision on the stream (the instance's read model still listed the admin)`)
  for (const app of adminApps) {
    // Right after (the instance's read model may lag: the decision on the stream still refuses) and later.
    t.equal((await generateRequest(app, apiKey, 99, ADMIN)).statusCode, 403, 'afterwards the former admin is refused')
    await caughtUp(app, apiKey)
    t.equal((await generateRequest(app, apiKey, 100, ADMIN)).statusCode, 403, 'also once the read model has caught up')
  }
}

t.test('a member removed while generating tokens cannot slip past the owner/admin rule (one instance)', async (t) => {
  const a = await startApp(t)
  const apiKey = await a.createStack()
  await a.share(apiKey, OWNER, ADMIN, ['admin'])
  await unshareRace(t, [a], a, apiKey)
})

t.test('a member removed while generating on two instances cannot slip past the rule', async (t) => {
  const { a, b } = await twoInstances(t)
  const apiKey = await a.createStack()
  await a.share(apiKey, OWNER, ADMIN, ['admin'])
  await caughtUp(b, apiKey)
  await unshareRace(t, [a, b], a, apiKey)
})

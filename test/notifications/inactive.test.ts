import { join } from 'node:path'
import Database from 'better-sqlite3'
import t, { type Test } from 'tap'
import { inactivityMessageId } from '../../reactors/inactivity-mail.js'
import { stackStream } from '../../src/eventstore/streams.js'
import { ADMIN, FaultyStore, OWNER, START, startApp, type TestApp } from '../support/app.js'
import { ManualScheduler, settle, TestReceiver, TestSmtp } from '../support/notifications.js'
import { waitFor } from '../support/wait-for.js'

const DAY = 86_400_000
const POLICY = '/v3/stacks/management_token_policy'
const TOKENS = '/v3/stacks/management_tokens'
const SECRET = 'whsec_test_0123456789abcdef'
const day = (n: number) => new Date(START.getTime() + n * DAY)

const setRule = async (a: TestApp, apiKey: string, inactive_days: number | null) =>
  (await a.call({ method: 'PUT', url: POLICY, as: OWNER, apiKey, body: { policy: { inactive_days } } })).statusCode
const use = async (a: TestApp, apiKey: string, secret: string): Promise<number> => {
  const headers = { api_key: apiKey, authorization: secret, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v3/content_types/a/entries', 'x-forwarded-for': '10.0.4.7' }
  const status = (await a.call({ method: 'GET', url: '/v3/authorize', headers })).statusCode
  await a.service.usage.flush()
  return status
}
const eventsOf = async (a: TestApp, apiKey: string, type: string) => (await a.service.store.readStream(stackStream(apiKey))).filter((e) => e.type === type)
const notices = (a: TestApp, apiKey: string) => eventsOf(a, apiKey, 'TokenInactivityNotified')
const revocations = (a: TestApp, apiKey: string) => eventsOf(a, apiKey, 'TokenRevoked')
/** Moves the fake clock to `n` days after START and lets the reactor do what is due. */
const goTo = async (a: TestApp, s: ManualScheduler, n: number) => {
  a.clock!.set(day(n))
  await settle(a, s)
  await settle(a, s)
}
const withSmtp = async (t: Test) => {
  const smtp = await new TestSmtp().start()
  t.teardown(() => smtp.stop())
  return smtp
}

t.test('a never-used token: notified once a week before inactive_days from its creation, then revoked (reason inactive); no secret in mail or webhook', async (t) => {
  const smtp = await withSmtp(t)
  const receiver = await new TestReceiver(SECRET, () => Math.floor(a.clock!.now().getTime() / 1000)).start()
  t.teardown(() => receiver.stop())
  const scheduler = new ManualScheduler()
  const a = await startApp(t, { clock: true, scheduler, config: { smtpUrl: smtp.url, webhookUrl: receiver.url, webhookSecret: SECRET } })
  const apiKey = await a.createStack(OWNER, 'Site')
  await a.share(apiKey, OWNER, ADMIN, ['admin'])
  const { uid, secret } = await a.generate(apiKey, OWNER, { name: 'idle bot' })
  t.equal(await setRule(a, apiKey, 30), 200)
  await settle(a, scheduler)
  t.ok(scheduler.pending.includes(23 * DAY), `a wake-up at the notice moment, not a poll (${scheduler.pending.join(', ')})`)

  a.clock!.set(new Date(day(23).getTime() - 1))
  await settle(a, scheduler)
  t.equal((await notices(a, apiKey)).length, 0, 'not a millisecond early')
  await goTo(a, scheduler, 23)
  await waitFor(() => smtp.mails.length === 1, { label: 'the notice mail' })
  const [event] = await notices(a, apiKey)
  t.match(event?.data, { token_uid: uid, last_activity_at: day(0).toISOString(), inactive_days: 30, retire_at: day(30).toISOString(), recipients: [ADMIN, OWNER] })
  t.equal((event?.metadata as { actor: string }).actor, 'system')
  for (const n of [24, 26, 29]) await goTo(a, scheduler, n)
  t.equal((await notices(a, apiKey)).length, 1, 'one notice')
  t.equal((await revocations(a, apiKey)).length, 0, 'not revoked before the announced moment')
  const mail = smtp.mails[0]!
  t.same(mail.envelopeTo.sort(), [ADMIN, OWNER], 'to the owner and admins')
  t.equal(mail.parsed.messageId, inactivityMessageId(event!.id))
  t.match(mail.parsed.subject, /"idle bot" of stack "Site" will be revoked on .*: unused for 30 days/)
  t.match(mail.parsed.text, new RegExp(`uid ${uid}`))
  t.match(mail.parsed.text, day(30).toISOString())

  await goTo(a, scheduler, 30)
  const revoked = await revocations(a, apiKey)
  t.equal(revoked.length, 1)
  t.same(revoked[0]?.data, { api_key: apiKey, token_uid: uid, reason: 'inactive' })
  await goTo(a, scheduler, 31)
  t.equal((await revocations(a, apiKey)).length, 1, 'revoked once')
  t.equal(await use(a, apiKey, secret), 401, 'the secret no longer works')
  t.equal(smtp.mails.length, 1, 'the notice is the only mail')
  const metrics = (await a.call({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, /inactivity_actions_total\{action="notice"\} 1\n/, '/metrics: one notice')
  t.match(metrics, /inactivity_actions_total\{action="retired"\} 1\n/, '/metrics: one retirement')
  const audit = (await a.call({ method: 'GET', url: '/v3/audit-logs?event_type=delete', as: OWNER, apiKey })).json()
  t.match(audit.logs, [{ event_type: 'delete', created_by: 'system', metadata: { uid, reason: 'inactive' } }], 'the audit log shows the reason')
  const notes = (await a.call({ method: 'GET', url: '/v3/audit-logs?event_type=inactivity_notice', as: OWNER, apiKey })).json()
  t.match(notes.logs, [{ module: 'management_token', event_type: 'inactivity_notice', created_by: 'system', metadata: { uid } }])

  await waitFor(() => [...receiver.processed.values()].some((b) => (b as { type: string }).type === 'token.revoked'), { label: 'webhooks' })
  const bodies = [...receiver.processed.values()] as Array<{ type: string; data: Record<string, unknown> }>
  t.match(bodies.find((b) => b.type === 'token.inactive_soon')?.data, { token_uid: uid, retire_at: day(30).toISOString(), inactive_days: 30 })
  t.match(bodies.find((b) => b.type === 'token.revoked')?.data, { token_uid: uid, reason: 'inactive' })
  const everything = [mail.raw.toString('utf8'), ...receiver.received.map((r) => r.body)].join('\n')
  t.equal(everything.indexOf(secret.slice(2)), -1, 'no secret in the mail or any webhook')
  t.notMatch(everything, /secret_hash/, 'nor its hash')
})

t.test('a use after the notice cancels the retirement; a new cycle counts from that use', async (t) => {
  const smtp = await withSmtp(t)
  const scheduler = new ManualScheduler()
  const a = await startApp(t, { clock: true, scheduler, config: { smtpUrl: smtp.url } })
  const apiKey = await a.createStack(OWNER)
  t.equal(await setRule(a, apiKey, 30), 200)
  const { uid, secret } = await a.generate(apiKey, OWNER, { name: 'sometimes' })
  await goTo(a, scheduler, 23)
  t.equal((await notices(a, apiKey)).length, 1, 'notified')
  a.clock!.set(day(25))
  t.equal(await use(a, apiKey, secret), 200, 'used on day 25')
  for (const n of [30, 31, 47]) await goTo(a, scheduler, n)
  t.equal((await revocations(a, apiKey)).length, 0, 'not revoked')
  t.equal((await notices(a, apiKey)).length, 1, 'no second notice before day 25 + 23')
  await goTo(a, scheduler, 48)
  const all = await notices(a, apiKey)
  t.equal(all.length, 2, 'a second notice for the new cycle')
  t.match(all[1]?.data, { token_uid: uid, last_activity_at: day(25).toISOString(), retire_at: day(55).toISOString() })
  await goTo(a, scheduler, 55)
  t.match((await revocations(a, apiKey)).map((e) => e.data), [{ token_uid: uid, reason: 'inactive' }], 'revoked at the end of the second cycle')
  await waitFor(() => smtp.mails.length === 2, { label: 'two notices' })
})

t.test('lifting or raising inactive_days cancels an announced retirement', async (t) => {
  const scheduler = new ManualScheduler()
  const a = await startApp(t, { clock: true, scheduler })
  const lifted = await a.createStack(OWNER, 'Lifted')
  const raised = await a.createStack(OWNER, 'Raised')
  for (const k of [lifted, raised]) {
    t.equal(await setRule(a, k, 30), 200)
    await a.generate(k, OWNER, { name: 'idle' })
  }
  await goTo(a, scheduler, 23)
  t.equal((await notices(a, lifted)).length + (await notices(a, raised)).length, 2, 'both notified')
  a.clock!.set(day(24))
  t.equal(await setRule(a, lifted, null), 200)
  t.equal(await setRule(a, raised, 60), 200)
  for (const n of [30, 31, 52]) await goTo(a, scheduler, n)
  t.equal((await revocations(a, lifted)).length + (await revocations(a, raised)).length, 0, 'neither revoked')
  t.equal((await notices(a, raised)).length, 1, 'the raised rule notifies again only a week before its own moment')
  await goTo(a, scheduler, 53)
  t.equal((await notices(a, raised)).length, 2)
  await goTo(a, scheduler, 60)
  t.equal((await revocations(a, raised)).length, 1, 'revoked under the raised rule, after its own notice')
  await goTo(a, scheduler, 100)
  t.equal((await notices(a, lifted)).length + (await revocations(a, lifted)).length, 1, 'nothing more where the rule was lifted')
})

t.test('two instances on one store: one notice, one mail and one revocation per token', async (t) => {
  const smtp = await withSmtp(t)
  const sa = new ManualScheduler()
  const sb = new ManualScheduler()
  const racing = (s: Parameters<NonNullable<Parameters<typeof startApp>[1]>['wrapStore'] & object>[0]) => Object.assign(new FaultyStore(s), { yieldAfterRead: true })
  const a = await startApp(t, { clock: true, scheduler: sa, config: { smtpUrl: smtp.url }, wrapStore: racing })
  const b = await startApp(t, { clock: true, scheduler: sb, eventStoreUrl: `sqlite:${join(a.dataDir, 'events.db')}`, config: { smtpUrl: smtp.url }, wrapStore: racing })
  const apiKey = await a.createStack(OWNER)
  t.equal(await setRule(a, apiKey, 30), 200)
  const tokens = await Promise.all([1, 2, 3].map((i) => a.generate(apiKey, OWNER, { name: `t${i}` })))
  const both = async (n: number) => {
    a.clock!.set(day(n))
    b.clock!.set(day(n))
    for (let i = 0; i < 2; i += 1) await Promise.all([settle(a, sa), settle(b, sb)])
  }
  for (const n of [0, 23, 24, 30, 31]) await both(n)
  await waitFor(() => smtp.mails.length >= 3, { label: 'three mails' })
  const noticed = await notices(a, apiKey)
  t.equal(noticed.length, 3, 'one notice event per token')
  t.equal(smtp.mails.length, 3, 'one mail per notice, not one per instance')
  t.same(smtp.mails.map((m) => m.parsed.messageId).sort(), noticed.map((e) => inactivityMessageId(e.id)).sort())
  const revoked = await revocations(a, apiKey)
  t.same(revoked.map((e) => (e.data as { token_uid: string }).token_uid).sort(), tokens.map((x) => x.uid).sort(), 'one revocation per token')
})

t.test('a restart after the notice does not mail again; a reactor database that predates the sweep catches up without repeating other notices', async (t) => {
  const smtp = await withSmtp(t)
  const scheduler = new ManualScheduler()
  const a = await startApp(t, { clock: true, scheduler, config: { smtpUrl: smtp.url } })
  const apiKey = await a.createStack(OWNER)
  t.equal(await setRule(a, apiKey, 30), 200)
  await a.generate(apiKey, OWNER, { name: 'idle' })
  await a.generate(apiKey, OWNER, { name: 'expiring', expires_on: day(5).toISOString(), is_email_notification_enabled: true })
  await goTo(a, scheduler, 23)
  await waitFor(() => smtp.mails.length === 2, { label: 'expiry and inactivity notices' })
  const { dataDir } = a
  await a.app.close()
  await a.service.close()

  const s2 = new ManualScheduler()
  const b = await startApp(t, { clock: day(25), scheduler: s2, dataDir, config: { smtpUrl: smtp.url } })
  await settle(b, s2)
  t.equal(smtp.mails.length, 2, 'no mail after the restart')
  t.equal((await notices(b, apiKey)).length, 1)
  await b.app.close()
  await b.service.close()

  // As after an upgrade: the sweep's tables are new while the expiry reactor is far ahead.
  const db = new Database(join(dataDir, 'reactors.db'))
  db.exec(`DROP TABLE inactivity_stacks; DROP TABLE inactivity_tokens; DELETE FROM reactor_checkpoints WHERE name = 'inactivity'`)
  db.close()
  const s3 = new ManualScheduler()
  const c = await startApp(t, { clock: day(30), scheduler: s3, dataDir, config: { smtpUrl: smtp.url } })
  await settle(c, s3)
  await settle(c, s3)
  t.equal((await revocations(c, apiKey)).length, 1, 'the announced retirement happens')
  t.equal(smtp.mails.length, 2, 'and nothing is mailed twice')
})

t.test('activity counts from the latest of last use, creation and rotation; a rule set later counts from creation, with a full week of notice', async (t) => {
  const scheduler = new ManualScheduler()
  const a = await startApp(t, { clock: true, scheduler })
  const apiKey = await a.createStack(OWNER)
  const old = await a.generate(apiKey, OWNER, { name: 'old' })
  const rotated = await a.generate(apiKey, OWNER, { name: 'rotated' })
  a.clock!.set(day(40))
  t.equal((await a.call({ method: 'POST', url: `${TOKENS}/${rotated.uid}/rotate`, as: OWNER, apiKey, body: {} })).statusCode, 200)
  t.equal(await setRule(a, apiKey, 30), 200, 'the rule comes on day 40')
  await settle(a, scheduler)
  const [first] = await notices(a, apiKey)
  t.match(first?.data, { token_uid: old.uid, last_activity_at: day(0).toISOString(), retire_at: day(47).toISOString() }, 'the never-used old token: from its creation, retired a full week later')
  await goTo(a, scheduler, 62)
  t.equal((await notices(a, apiKey)).length, 1, 'the rotated one: nothing before day 40 + 23')
  await goTo(a, scheduler, 63)
  t.match((await notices(a, apiKey))[1]?.data, { token_uid: rotated.uid, last_activity_at: day(40).toISOString() }, 'counted from its rotation')
  t.equal(a.service.notifications.outbox.list().length, 2, 'mailed (as .eml files without SMTP_URL)')
})

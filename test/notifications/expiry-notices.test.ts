import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { simpleParser } from 'mailparser'
import t, { type Test } from 'tap'
import { noticeMessageId } from '../../reactors/expiry-mail.js'
import { run, type Io } from '../../src/cli/main.js'
import { stackStream } from '../../src/eventstore/streams.js'
import { ADMIN, DEVELOPER, OWNER, START, startApp, type TestApp } from '../support/app.js'
import { ManualScheduler, settle, TestSmtp } from '../support/notifications.js'
import { waitFor } from '../support/wait-for.js'

const DAY = 86_400_000
const TOKENS = '/v3/stacks/management_tokens'
const inDays = (days: number, from = START) => new Date(from.getTime() + days * DAY).toISOString()

const notices = async (a: TestApp, apiKey: string) =>
  (await a.service.store.readStream(stackStream(apiKey))).filter((e) => e.type === 'TokenExpiryNotified')

const withSmtp = async (t: Test) => {
  const smtp = await new TestSmtp().start()
  t.teardown(() => smtp.stop())
  return smtp
}

t.test('a new user: a token expiring in 6 days with notification on gives an .eml in DATA_DIR/outbox/ within a minute (real clock and timers)', async (t) => {
  const a = await startApp(t)
  t.match(a.service.notifications.summary, /no SMTP_URL, written as \.eml files to .*outbox/)
  const apiKey = await a.createStack(OWNER, 'Marketing site')
  await a.share(apiKey, OWNER, ADMIN, ['admin'])
  await a.share(apiKey, OWNER, DEVELOPER, ['developer'])
  const expires = new Date(Date.now() + 6 * DAY).toISOString()
  const created = Date.now()
  const { uid, secret } = await a.generate(apiKey, OWNER, { name: 'deploy bot', expires_on: expires, is_email_notification_enabled: true })
  const dir = join(a.dataDir, 'outbox')
  await waitFor(() => existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.eml')), { label: '.eml file', timeoutMs: 60_000, intervalMs: 20 })
  t.comment(`.eml written ${Date.now() - created} ms after the token was created`)
  const files = readdirSync(dir)
  t.equal(files.length, 1, 'one message')
  const raw = readFileSync(join(dir, files[0] as string))
  const mail = await simpleParser(raw)
  const [event] = await notices(a, apiKey)
  t.ok(event, 'the notice is an event in the stack stream')
  t.equal(mail.messageId, noticeMessageId(event!.id), 'Message-ID derived from the event id')
  t.same((mail.to as { value: Array<{ address: string }> }).value.map((v) => v.address).sort(), [ADMIN, OWNER], 'owner and admins, not the developer')
  t.match(mail.subject, /"deploy bot" of stack "Marketing site"/)
  t.match(mail.text, new RegExp(`uid ${uid}`))
  t.match(mail.text, expires)
  t.match(mail.text, /PUT \/v3\/stacks\/management_tokens\//, 'says how to extend it')
  t.equal(raw.indexOf(secret.slice(2)), -1, 'no secret in the mail')
  t.match(event!.data, { token_uid: uid, expires_on: expires, recipients: [ADMIN, OWNER] })
  t.equal((event!.metadata as { actor: string }).actor, 'system')
})

t.test('sent once, at the moment NOTIFY_BEFORE before expiry, to the owner and admins, over SMTP', async (t) => {
  const smtp = await withSmtp(t)
  const scheduler = new ManualScheduler()
  const a = await startApp(t, { clock: true, scheduler, config: { smtpUrl: smtp.url, mailFrom: 'Tokens <tokens@example.com>' } })
  const apiKey = await a.createStack(OWNER, 'Site')
  await a.share(apiKey, OWNER, ADMIN, ['admin'])
  const expires = inDays(10)
  const { uid } = await a.generate(apiKey, ADMIN, { name: 'ci', expires_on: expires, is_email_notification_enabled: true })
  await settle(a, scheduler)
  t.equal((await notices(a, apiKey)).length, 0, 'nothing 10 days ahead')
  t.ok(scheduler.pending.includes(3 * DAY), `a timer for the moment 3 days ahead (${scheduler.pending.join(', ')})`)

  a.clock!.set(new Date(Date.parse(expires) - 7 * DAY - 1))
  await settle(a, scheduler)
  t.equal((await notices(a, apiKey)).length, 0, 'not a millisecond early')
  t.equal(smtp.mails.length, 0)

  a.clock!.advance(1)
  await settle(a, scheduler)
  await waitFor(() => smtp.mails.length > 0, { label: 'mail over SMTP' })
  const [event] = await notices(a, apiKey)
  t.ok(event)
  for (let i = 0; i < 3; i += 1) {
    a.clock!.advance(DAY)
    await settle(a, scheduler)
  }
  t.equal((await notices(a, apiKey)).length, 1, 'one notice for this expiry')
  t.equal(smtp.mails.length, 1, 'one mail')
  const mail = smtp.mails[0]!
  t.same(mail.envelopeTo.sort(), [ADMIN, OWNER])
  t.equal(mail.parsed.messageId, noticeMessageId(event!.id))
  t.match(mail.parsed.from?.text, /tokens@example\.com/)
  t.match(mail.parsed.text, uid)
  const audit = await a.call({ method: 'GET', url: '/v3/audit-logs?event_type=expiry_notice', as: OWNER, apiKey })
  t.match(audit.json().logs, [{ module: 'management_token', event_type: 'expiry_notice', created_by: 'system', metadata: { uid, title: 'ci' } }])
  const out: string[] = []
  const io: Io = { out: (x) => void out.push(x), err: (x) => void out.push(x), env: { DATA_DIR: a.dataDir } }
  t.equal(await run(['audit', '--type', 'expiry_notice', '--json'], io), 0)
  t.match(out.map((l) => JSON.parse(l)), [{ type: 'TokenExpiryNotified', actor: 'system', stack: apiKey, token: uid, data: { expires_on: expires, recipients: [ADMIN, OWNER] } }])
  out.length = 0
  t.equal(await run(['audit', '--as-of', new Date(a.clock!.now()).toISOString()], io), 0, 'as-of folds the notice too')
  t.match(out.join(''), new RegExp(`${uid}.*active`))
  const metrics = (await a.call({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, /expiry_notices_total 1/)
  t.match(metrics, /outbox_deliveries_total\{channel="mail",outcome="delivered"\} 1/)
  t.match(metrics, /outbox_depth\{channel="mail"\} 0/)
})

t.test('not sent when notification is off, the token was revoked or notification disabled, or it has no expiry', async (t) => {
  const smtp = await withSmtp(t)
  const scheduler = new ManualScheduler()
  const a = await startApp(t, { clock: true, scheduler, config: { smtpUrl: smtp.url } })
  const apiKey = await a.createStack(OWNER)
  await a.generate(apiKey, OWNER, { name: 'off', expires_on: inDays(3), is_email_notification_enabled: false })
  await a.generate(apiKey, OWNER, { name: 'never', expires_on: null, is_email_notification_enabled: true })
  const revoked = await a.generate(apiKey, OWNER, { name: 'revoked', expires_on: inDays(10), is_email_notification_enabled: true })
  const disabled = await a.generate(apiKey, OWNER, { name: 'disabled', expires_on: inDays(10), is_email_notification_enabled: true })
  await settle(a, scheduler)
  t.equal((await a.call({ method: 'DELETE', url: `${TOKENS}/${revoked.uid}`, as: OWNER, apiKey })).statusCode, 200)
  const put = await a.call({ method: 'PUT', url: `${TOKENS}/${disabled.uid}`, as: OWNER, apiKey, body: { token: { is_email_notification_enabled: false } } })
  t.equal(put.statusCode, 200)
  for (const days of [1, 3, 3, 2]) {
    a.clock!.advance(days * DAY)
    await settle(a, scheduler)
  }
  t.equal((await notices(a, apiKey)).length, 0, 'no notice event')
  t.equal(smtp.mails.length, 0, 'no mail')
})

t.test('a changed expiry re-arms the notice; the old expiry is not notified', async (t) => {
  const smtp = await withSmtp(t)
  const scheduler = new ManualScheduler()
  const a = await startApp(t, { clock: true, scheduler, config: { smtpUrl: smtp.url } })
  const apiKey = await a.createStack(OWNER)
  const first = inDays(5)
  const { uid } = await a.generate(apiKey, OWNER, { expires_on: first, is_email_notification_enabled: true })
  await settle(a, scheduler)
  await waitFor(() => smtp.mails.length === 1, { label: 'first notice' })
  const second = inDays(30)
  t.equal((await a.call({ method: 'PUT', url: `${TOKENS}/${uid}`, as: OWNER, apiKey, body: { token: { expires_on: second } } })).statusCode, 200)
  a.clock!.advance(20 * DAY)
  await settle(a, scheduler)
  t.equal(smtp.mails.length, 1, 'nothing yet: the new moment is 23 days ahead')
  a.clock!.set(new Date(Date.parse(second) - 7 * DAY))
  await settle(a, scheduler)
  await waitFor(() => smtp.mails.length === 2, { label: 'second notice' })
  const events = await notices(a, apiKey)
  t.same(events.map((e) => (e.data as { expires_on: string }).expires_on), [first, second], 'one notice per expiry value')
  t.match(smtp.mails[1]!.parsed.text, second)
})

t.test('a moment that passed while the service was down is notified at start-up, unless the token has expired', async (t) => {
  const smtp = await withSmtp(t)
  const scheduler = new ManualScheduler()
  const a = await startApp(t, { clock: true, scheduler, config: { smtpUrl: smtp.url } })
  const apiKey = await a.createStack(OWNER)
  await a.generate(apiKey, OWNER, { name: 'soon', expires_on: inDays(9), is_email_notification_enabled: true })
  await a.generate(apiKey, OWNER, { name: 'sooner', expires_on: inDays(8), is_email_notification_enabled: true })
  await settle(a, scheduler)
  t.equal(smtp.mails.length, 0)
  const { dataDir } = a
  await a.app.close()
  await a.service.close()

  // Down for 8.5 days: "sooner" expired meanwhile, "soon" has half a day left.
  const scheduler2 = new ManualScheduler()
  const b = await startApp(t, { clock: new Date(START.getTime() + 8.5 * DAY), scheduler: scheduler2, dataDir, config: { smtpUrl: smtp.url } })
  await waitFor(() => smtp.mails.length === 1, { label: 'notice after restart', timeoutMs: 10_000 })
  await settle(b, scheduler2)
  t.equal(smtp.mails.length, 1)
  t.match(smtp.mails[0]!.parsed.subject, /"soon"/)
  t.same((await notices(b, apiKey)).length, 1)
})

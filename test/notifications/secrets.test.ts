import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { OWNER, START, startApp, type TestApp } from '../support/app.js'
import { lastPosition, ManualScheduler, TestReceiver, TestSmtp } from '../support/notifications.js'
import { waitFor } from '../support/wait-for.js'

const DAY = 86_400_000
const WEBHOOK_SECRET = 'whsec_never_in_a_body_0123456789'
const TOKENS = '/v3/stacks/management_tokens'
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')

/** Each issued secret, its hex digits, and its SHA-256 hash (what events hold), in any form a byte search can find. */
const forbidden = (secrets: readonly string[]) =>
  secrets.flatMap((s) => [s, s.slice(2), sha256(s), sha256(s).toUpperCase(), Buffer.from(sha256(s), 'hex').toString('base64')]).concat(WEBHOOK_SECRET)

t.test('no secret or secret hash in any mail (SMTP and .eml), webhook body or header, outbox or log', async (t) => {
  const smtp = await new TestSmtp().start()
  t.teardown(() => smtp.stop())
  const scheduler = new ManualScheduler()
  const receiver = await new TestReceiver(WEBHOOK_SECRET, () => Math.floor(a.clock!.now().getTime() / 1000)).start()
  t.teardown(() => receiver.stop())
  const a: TestApp = await startApp(t, { clock: true, scheduler, logLevel: 'trace', config: { smtpUrl: smtp.url, webhookUrl: receiver.url, webhookSecret: WEBHOOK_SECRET } })

  const secrets: string[] = []
  const apiKey = await a.createStack(OWNER)
  for (const i of [1, 2]) {
    const { uid, secret } = await a.generate(apiKey, OWNER, { name: `t${i}`, expires_on: new Date(START.getTime() + (i + 1) * DAY).toISOString(), is_email_notification_enabled: true })
    secrets.push(secret)
    const rotated = await a.call({ method: 'POST', url: `${TOKENS}/${uid}/rotate`, as: OWNER, apiKey, body: { previous_expires_in_seconds: 60 } })
    secrets.push(rotated.json().token.token)
  }
  await waitFor(() => smtp.mails.length === 2, { label: 'two notices over SMTP from instance a' })
  await waitFor(async () => a.service.notifications.reactor.checkpoint >= (await lastPosition(a)), { label: 'a caught up' })
  for (let i = 0; i < 4; i += 1) {
    a.clock!.advance(1000 * 2 ** i)
    scheduler.fire()
    await a.service.notifications.reactor.idle()
  }
  const events = await lastPosition(a)
  await waitFor(() => receiver.processed.size === events, { label: 'a webhook for every event' })
  // From here on only instance b reacts: its notice goes to an .eml file.
  await a.service.notifications.reactor.stop()
  // A second instance without SMTP writes .eml files.
  const scheduler2 = new ManualScheduler()
  const b = await startApp(t, { clock: new Date(a.clock!.now()), scheduler: scheduler2, logLevel: 'trace', eventStoreUrl: `sqlite:${join(a.dataDir, 'events.db')}` })
  const other = await b.generate(apiKey, OWNER, { name: 'on-b', expires_on: new Date(START.getTime() + 4 * DAY).toISOString(), is_email_notification_enabled: true })
  secrets.push(other.secret)
  t.equal(secrets.length, 5)
  // Notices (each mailed by the instance that recorded it), every webhook, then the expiries.
  const last = await lastPosition(b)
  await waitFor(() => b.service.notifications.reactor.checkpoint >= last, { label: 'b caught up' })
  for (let i = 0; i < 6; i += 1) {
    scheduler2.fire()
    await b.service.notifications.reactor.idle()
    b.clock!.advance(DAY)
  }
  const emlDir = join(b.dataDir, 'outbox')
  const emls = () => {
    try {
      return readdirSync(emlDir).filter((f) => f.endsWith('.eml'))
    } catch {
      return []
    }
  }
  await waitFor(() => smtp.mails.length + emls().length === 3, { label: 'three notices delivered', timeoutMs: 10_000 })
  t.comment(`${smtp.mails.length} mails over SMTP, ${emls().length} .eml files, ${receiver.received.length} webhook requests`)

  const bad = forbidden(secrets)
  const search = (what: string, bytes: Buffer) => {
    const found = bad.filter((s) => bytes.includes(Buffer.from(s)))
    t.same(found, [], `${what}: none of ${bad.length} secret forms`)
  }
  for (const m of smtp.mails) search(`SMTP mail ${m.parsed.messageId}`, m.raw)
  for (const f of emls()) search(`.eml ${f}`, readFileSync(join(emlDir, f)))
  for (const r of receiver.received) search(`webhook ${r.id}`, Buffer.from(r.body + r.signature + r.id))
  search('logs of instance a (trace)', Buffer.from(a.logLines.join('')))
  search('logs of instance b (trace)', Buffer.from(b.logLines.join('')))
  t.equal(smtp.mails.length, 2)
  t.equal(emls().length, 1)
  t.ok(a.logLines.some((l) => l.includes('"msg":"delivered"')), 'the logs do report deliveries')
  for (const x of [a, b]) {
    await x.app.close()
    await x.service.close()
    search(`outbox database of ${x === a ? 'a' : 'b'}`, readFileSync(join(x.dataDir, 'reactors.db')))
  }
})

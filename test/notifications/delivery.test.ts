import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import { noticeMessageId } from '../../reactors/expiry-mail.js'
import { SqliteEventStore } from '../../src/eventstore/sqlite.js'
import { stackStream } from '../../src/eventstore/streams.js'
import { mintAuthtoken } from '../../src/http/auth.js'
import { ADMIN, FaultyStore, JWT_SECRET, OWNER, START, startApp, tempDir, type TestApp } from '../support/app.js'
import { ManualScheduler, settle, TestSmtp } from '../support/notifications.js'
import { waitFor } from '../support/wait-for.js'
import { plainEnv } from '../support/plain-env.js'

const DAY = 86_400_000
const inDays = (days: number, from = START) => new Date(from.getTime() + days * DAY).toISOString()

const notices = async (a: TestApp, apiKey: string) =>
  (await a.service.store.readStream(stackStream(apiKey))).filter((e) => e.type === 'TokenExpiryNotified')

/** A port nothing listens on (a mail server that is down). */
const freePort = async (): Promise<number> => {
  const s = createServer().listen(0, '127.0.0.1')
  await once(s, 'listening')
  const { port } = s.address() as AddressInfo
  await new Promise((resolve) => s.close(resolve))
  return port
}

t.test('two instances on one store record one notice and deliver one mail', async (t) => {
  const smtp = await new TestSmtp().start()
  t.teardown(() => smtp.stop())
  const sa = new ManualScheduler()
  const sb = new ManualScheduler()
  // yieldAfterRead: each instance's read and append are apart, so that the two really race.
  const a = await startApp(t, { clock: true, scheduler: sa, logLevel: 'debug', config: { smtpUrl: smtp.url }, wrapStore: (s) => Object.assign(new FaultyStore(s), { yieldAfterRead: true }) })
  const b = await startApp(t, {
    clock: true,
    scheduler: sb,
    logLevel: 'debug',
    eventStoreUrl: `sqlite:${join(a.dataDir, 'events.db')}`,
    config: { smtpUrl: smtp.url },
    wrapStore: (s) => Object.assign(new FaultyStore(s), { yieldAfterRead: true }),
  })
  const apiKey = await a.createStack(OWNER)
  await a.share(apiKey, OWNER, ADMIN, ['admin'])
  const tokens = await Promise.all([1, 2, 3, 4].map((i) => a.generate(apiKey, OWNER, { name: `t${i}`, expires_on: inDays(9), is_email_notification_enabled: true })))
  await Promise.all([settle(a, sa), settle(b, sb)])
  // Both instances find all four notices due at the same moment.
  a.clock!.advance(2 * DAY)
  b.clock!.advance(2 * DAY)
  await Promise.all([settle(a, sa), settle(b, sb)])
  await waitFor(() => smtp.mails.length >= 4, { label: 'four mails' })
  for (let i = 0; i < 2; i += 1) {
    a.clock!.advance(DAY)
    b.clock!.advance(DAY)
    await Promise.all([settle(a, sa), settle(b, sb)])
  }
  const events = await notices(a, apiKey)
  t.equal(events.length, 4, 'one notice event per token')
  t.same(new Set(events.map((e) => (e.data as { token_uid: string }).token_uid)), new Set(tokens.map((x) => x.uid)))
  t.equal(smtp.mails.length, 4, 'one mail per notice, not one per instance')
  t.same(smtp.mails.map((m) => m.parsed.messageId).sort(), events.map((e) => noticeMessageId(e.id)).sort())
  const countOf = async (x: TestApp) => Number(/^expiry_notices_total (\d+)$/m.exec(await x.service.metrics.metrics())?.[1])
  const [na, nb] = [await countOf(a), await countOf(b)]
  const refused = [...a.logs(), ...b.logs()].filter((l) => l.msg === 'expiry notice not recorded').map((l) => l.code)
  t.comment(`notices recorded: instance a ${na}, instance b ${nb}; attempts refused by the domain: ${refused.join(', ') || 'none'}`)
  t.equal(na + nb, 4, 'each notice recorded by exactly one instance')
  t.equal(a.service.notifications.outbox.list().length + b.service.notifications.outbox.list().length, 4, 'each mail in exactly one outbox')
})

t.test('killed (SIGKILL) after recording, before the mail server accepted: after restart the same Message-ID is delivered, once', async (t) => {
  const dataDir = tempDir(t)
  const deadPort = await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/serve-child.ts'], {
    env: { ...plainEnv(), DATA_DIR: dataDir, PORT: '0', AUTH_JWT_SECRET: JWT_SECRET, SMTP_URL: `smtp://127.0.0.1:${deadPort}`, LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  await waitFor(() => /listening on (http:\/\/\S+)\/v3/.test(stderr), { label: 'child listening', timeoutMs: 60_000, intervalMs: 20 })
  const base = /listening on (http:\/\/\S+)\/v3/.exec(stderr)![1]
  t.match(stderr, /expiry notices: mailed through smtp:\/\/127\.0\.0\.1/, 'the start-up message says where notices go')
  const at = mintAuthtoken(JWT_SECRET, { email: OWNER, sub: 'u-owner' })
  const post = async (path: string, body: unknown, apiKey?: string) => {
    const res = await fetch(`${base}${path}`, { method: 'POST', headers: { authtoken: at, 'content-type': 'application/json', ...(apiKey ? { api_key: apiKey } : {}) }, body: JSON.stringify(body) })
    t.equal(res.status, 201, path)
    return (await res.json()) as Record<string, { api_key: string; uid: string }>
  }
  const apiKey = (await post('/v3/stacks', { stack: { name: 'Site' } })).stack!.api_key
  const expires = new Date(Date.now() + 6 * DAY).toISOString()
  const uid = (await post('/v3/stacks/management_tokens', { token: { name: 'ci', scope: [{ module: 'entry', acl: { read: true } }], expires_on: expires, is_email_notification_enabled: true } }, apiKey)).token!.uid

  // Recorded, and the first attempt failed (the mail server is down): then kill.
  const outboxDb = join(dataDir, 'reactors.db')
  const attempts = () => {
    try {
      const db = new Database(outboxDb, { readonly: true, fileMustExist: true })
      try {
        return (db.prepare(`SELECT attempts FROM outbox WHERE channel = 'mail'`).pluck().get() as number | undefined) ?? 0
      } finally {
        db.close()
      }
    } catch {
      return 0
    }
  }
  await waitFor(() => attempts() >= 1, { label: 'a failed attempt in the outbox', timeoutMs: 30_000, intervalMs: 20 })
  child.kill('SIGKILL')
  await once(child, 'exit')
  t.equal(child.signalCode, 'SIGKILL', 'killed, not closed')
  const store = new SqliteEventStore(join(dataDir, 'events.db'))
  const recorded = (await store.readStream(stackStream(apiKey))).filter((e) => e.type === 'TokenExpiryNotified')
  await store.close()
  t.equal(recorded.length, 1, 'the notice was recorded before the kill')

  const smtp = await new TestSmtp().start()
  t.teardown(() => smtp.stop())
  const b = await startApp(t, { dataDir, config: { smtpUrl: smtp.url } })
  await waitFor(() => smtp.mails.length >= 1, { label: 'mail after restart', timeoutMs: 30_000 })
  await b.service.notifications.reactor.idle()
  t.equal(smtp.mails.length, 1, 'delivered once')
  t.equal(smtp.mails[0]!.parsed.messageId, noticeMessageId(recorded[0]!.id), 'with the Message-ID of the recorded notice')
  t.match(smtp.mails[0]!.parsed.text, uid)
  t.equal((await notices(b, apiKey)).length, 1, 'and no second notice')
  t.comment(`delivered after restart: ${smtp.mails[0]!.parsed.messageId} to ${smtp.mails[0]!.envelopeTo.join(', ')}`)
})

t.test('an append that reached the store but reported a failure: the intent waits for the stream, the mail goes once', async (t) => {
  const smtp = await new TestSmtp().start()
  t.teardown(() => smtp.stop())
  const scheduler = new ManualScheduler()
  let faulty: FaultyStore | undefined
  const a = await startApp(t, { clock: true, scheduler, config: { smtpUrl: smtp.url }, wrapStore: (s) => (faulty = new FaultyStore(s)) })
  const apiKey = await a.createStack(OWNER)
  await a.generate(apiKey, OWNER, { expires_on: inDays(9), is_email_notification_enabled: true })
  await settle(a, scheduler)
  const append = faulty!.append.bind(faulty)
  faulty!.append = async (...args) => {
    const r = await append(...args)
    throw new Error(`connection lost after the append (test fault); ${String(r._tag)}`)
  }
  a.clock!.advance(2 * DAY)
  await settle(a, scheduler)
  await waitFor(() => smtp.mails.length === 1, { label: 'mail from the intent' })
  faulty!.append = append
  a.clock!.advance(DAY)
  await settle(a, scheduler)
  t.equal((await notices(a, apiKey)).length, 1)
  t.equal(smtp.mails.length, 1)
  t.match(a.logs().find((l) => l.msg === 'recording an expiry notice failed; will retry'), { level: 40 })
})

t.test('the mail server down for a while, then up: everything delivered, nothing lost, nothing twice', async (t) => {
  const smtp = await new TestSmtp().start()
  t.teardown(() => smtp.stop())
  await smtp.stop() // down, its port known
  const scheduler = new ManualScheduler()
  const a = await startApp(t, { clock: true, scheduler, config: { smtpUrl: smtp.url } })
  const apiKey = await a.createStack(OWNER)
  const uids = []
  for (const i of [1, 2, 3]) uids.push((await a.generate(apiKey, OWNER, { name: `t${i}`, expires_on: inDays(6 + i / 10), is_email_notification_enabled: true })).uid)
  await settle(a, scheduler)
  await waitFor(() => a.service.notifications.outbox.list('pending').length === 3, { label: 'three notices in the outbox' })
  // Five failed rounds, the clock moving by each backoff (1, 2, 4, 8, 16 s).
  for (let i = 0; i < 5; i += 1) {
    a.clock!.advance(1000 * 2 ** i)
    await settle(a, scheduler)
  }
  const pending = a.service.notifications.outbox.list('pending')
  t.equal(pending.length, 3, 'still pending')
  t.ok(pending.every((d) => d.attempts === 6), `attempts ${pending.map((d) => d.attempts).join(', ')}`)
  const metrics = await a.service.metrics.metrics()
  t.match(metrics, /outbox_deliveries_total\{channel="mail",outcome="failed"\} 18/)
  t.match(metrics, /outbox_depth\{channel="mail"\} 3/)
  t.match(metrics, /outbox_oldest_undelivered_seconds\{channel="mail"\} 31/, 'the oldest waited 31 s (fake clock)')
  const warn = a.logs().find((l) => l.msg === 'delivery failed; will retry')
  t.match(warn, { channel: 'mail', target: smtp.url.replace(/\/?$/, ''), status: 'ESOCKET', error: /ECONNREFUSED/ }, 'logged with target and status')

  await smtp.start() // up again, same port
  a.clock!.advance(32_000)
  await settle(a, scheduler)
  await waitFor(() => smtp.mails.length === 3, { label: 'three mails' })
  a.clock!.advance(DAY)
  await settle(a, scheduler)
  t.equal(smtp.mails.length, 3, 'each once')
  t.same(smtp.mails.map((m) => /uid (blt\w+)/.exec(m.parsed.text ?? '')?.[1]).sort(), [...uids].sort(), 'every notice delivered')
  t.equal(a.service.notifications.outbox.list('pending').length, 0)
  t.match(await a.service.metrics.metrics(), /outbox_oldest_undelivered_seconds\{channel="mail"\} 0/)
  t.comment(`delivered after the outage: ${smtp.mails.map((m) => m.parsed.messageId).join(', ')}`)
})

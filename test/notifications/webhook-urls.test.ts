import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import Database from 'better-sqlite3'
import { pino } from 'pino'
import t, { type Test } from 'tap'
import { run, type Io } from '../../src/cli/main.js'
import { REDACT } from '../../src/logger.js'
import { Dispatcher } from '../../src/react/dispatch.js'
import { Outbox } from '../../src/react/outbox.js'
import { redactWebhookUrl, webhookTransport } from '../../src/react/webhook-transport.js'
import { OWNER, START, startApp, tempDir } from '../support/app.js'
import { ManualScheduler, settle, TestReceiver } from '../support/notifications.js'

const SECRET = 'whsec_url_tests_0123456789abcdef'
/** A Slack-style receiver: the credential is the path; this one has a query token as well. */
const PATH_SECRET = '/services/T0SECRET/B0SECRET/XXXXpathsecretXXXX'
const QUERY_TOKEN = 'querytoken0123456789'
const PASSWORD = 'hunter2password'
const NEVER = [PATH_SECRET, 'T0SECRET', 'B0SECRET', 'XXXXpathsecretXXXX', QUERY_TOKEN, PASSWORD]

/** Which of the secrets a text shows. */
const leaks = (text: string) => NEVER.filter((s) => text.includes(s))

/** A real HTTP server on 127.0.0.1 that records each request's path and answers with `handle`. */
const httpServer = async (t: Test, handle: (req: IncomingMessage, res: ServerResponse) => void) => {
  const requests: string[] = []
  const server = createServer((req, res) => {
    requests.push(String(req.url))
    req.resume().on('end', () => handle(req, res))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests }
}

/** A Dispatcher on an in-memory outbox, its pino log captured line by line. */
const dispatcherFor = (t: Test, url: string) => {
  const db = new Database(':memory:')
  t.teardown(() => db.close())
  const outbox = new Outbox(db)
  const lines: string[] = []
  const logger = pino({ level: 'trace', redact: REDACT }, { write: (l: string) => void lines.push(l) })
  const webhook = webhookTransport(url, SECRET)
  const dispatcher = new Dispatcher({ outbox, mail: { target: 'none', send: async () => {}, close: () => {} }, webhook, clock: () => START, logger })
  let n = 0
  const attempt = async () => {
    n += 1
    outbox.add({ id: `d${n}`, channel: 'webhook', stack: `s${n}`, kind: 'token.generated', payload: '{}' }, START.getTime())
    const outcome = await dispatcher.attempt(outbox.get(`d${n}`)!)
    return { outcome, row: outbox.get(`d${n}`)!, log: JSON.parse(lines.at(-1)!) as Record<string, unknown> }
  }
  return { attempt, lines, webhook }
}

t.test('WEBHOOK_URL with a user or password stops start-up with exit code 2, naming the variable, not the value', async (t) => {
  const dataDir = tempDir(t)
  for (const url of [`https://hooks:${PASSWORD}@hooks.example.com${PATH_SECRET}?token=${QUERY_TOKEN}`, 'https://hooks@hooks.example.com/in', `https://:${PASSWORD}@hooks.example.com/in`]) {
    for (const argv of [['serve'], ['deliveries', 'resend', '--all']]) {
      const out: string[] = []
      const err: string[] = []
      const io: Io = { out: (s) => void out.push(s), err: (s) => void err.push(s), env: { DATA_DIR: dataDir, WEBHOOK_URL: url, WEBHOOK_SECRET: SECRET } }
      t.equal(await run(argv, io), 2, `${argv[0]} refuses ${redactWebhookUrl(url)}`)
      t.match(err.join(''), /^Invalid configuration:\n {2}WEBHOOK_URL: must not carry a user or password/)
      t.same(leaks(out.join('') + err.join('')), [])
      t.notMatch(err.join(''), /hooks@|hooks\.example\.com/, 'not even the host')
    }
  }
})

t.test('a path secret and a query token reach no log line: start-up, a failure, its retry, a network error', async (t) => {
  const scheduler = new ManualScheduler()
  let nowSeconds = () => Math.floor(START.getTime() / 1000)
  const receiver = await new TestReceiver(SECRET, () => nowSeconds()).start()
  t.teardown(() => receiver.stop())
  receiver.answer = (n) => (n === 1 ? 500 : 200)
  const origin = new URL(receiver.url).origin
  const url = `${origin}${PATH_SECRET}?token=${QUERY_TOKEN}`
  const a = await startApp(t, { clock: true, scheduler, logLevel: 'trace', config: { webhookUrl: url, webhookSecret: SECRET } })
  nowSeconds = () => Math.floor(a.clock!.now().getTime() / 1000)
  t.equal(a.service.notifications.summary, `expiry notices: no SMTP_URL, written as .eml files to ${a.dataDir}/outbox; lifecycle webhooks to ${origin}/…`)

  await a.createStack(OWNER, 'One')
  await settle(a, scheduler)
  a.clock!.advance(1000)
  await settle(a, scheduler)
  t.same(receiver.received.map((r) => r.status), [500, 200], 'failed once, delivered on the retry')
  await receiver.stop()
  await a.createStack(OWNER, 'Two')
  await settle(a, scheduler)
  a.clock!.advance(1000)
  await settle(a, scheduler)

  const failures = a.logs().filter((l) => l.channel === 'webhook' && l.msg === 'delivery failed; will retry')
  t.match(failures, [
    { status: '500', target: `${origin}/…`, error: 'receiver answered 500' },
    { status: 'ECONNREFUSED', target: `${origin}/…`, error: /^fetch failed: connect ECONNREFUSED 127\.0\.0\.1:\d+$/ },
    { status: 'ECONNREFUSED', attempts: 2 },
  ])
  t.match(a.logs().find((l) => l.msg === 'delivered' && l.channel === 'webhook'), { target: `${origin}/…` })
  t.same(leaks(a.logLines.join('')), [], `none of the secrets in ${a.logLines.length} log lines`)
  t.same(leaks(a.service.notifications.summary), [])
  t.same(leaks(JSON.stringify(a.service.notifications.outbox.list())), [], 'nor in the outbox errors the CLI lists')
  t.ok(receiver.received.length > 0 && a.logLines.some((l) => l.includes(origin)), 'the logs do name the receiver')
})

t.test('an error fetch raises with the whole URL in it is logged redacted', async (t) => {
  const server = await httpServer(t, (_req, res) => res.end())
  const url = `http://hooks:${PASSWORD}@${server.origin.slice('http://'.length)}${PATH_SECRET}?token=${QUERY_TOKEN}`
  const raw = await fetch(url, { method: 'POST' }).then(
    () => '',
    (e: Error) => e.message,
  )
  t.match(raw, PASSWORD, 'fetch itself quotes the URL, password and all')
  const { attempt, lines } = dispatcherFor(t, url)
  const { outcome, row, log } = await attempt()
  t.equal(outcome, 'failed')
  t.match(log, { msg: 'delivery failed; will retry', target: `${server.origin}/…`, status: 'error', error: `Request cannot be constructed from a URL that includes credentials: ${server.origin}/…` })
  t.same(leaks(lines.join('') + row.last_error), [])
  t.same(server.requests, [], 'nothing was sent')
})

t.test('a redirect is not followed: the second receiver gets nothing, the delivery stays pending and is retried', async (t) => {
  const scheduler = new ManualScheduler()
  let nowSeconds = () => Math.floor(START.getTime() / 1000)
  const second = await new TestReceiver(SECRET, () => nowSeconds()).start()
  t.teardown(() => second.stop())
  const elsewhere = `${new URL(second.url).origin}/loot${PATH_SECRET}?token=${QUERY_TOKEN}`
  let redirect = true
  const first = await httpServer(t, (_req, res) => {
    res.writeHead(redirect ? 307 : 200, redirect ? { location: elsewhere } : {}).end()
  })
  const a = await startApp(t, { clock: true, scheduler, logLevel: 'trace', config: { webhookUrl: `${first.origin}/hooks`, webhookSecret: SECRET } })
  nowSeconds = () => Math.floor(a.clock!.now().getTime() / 1000)

  await a.createStack(OWNER)
  await settle(a, scheduler)
  a.clock!.advance(1000)
  await settle(a, scheduler)
  t.equal(first.requests.length, 2, 'the first receiver was tried, then retried')
  t.equal(second.received.length, 0, 'the receiver it points to never gets a request')
  const [row] = a.service.notifications.outbox.list()
  t.match(row, { status: 'pending', attempts: 2, last_error: `307: receiver redirected to ${new URL(second.url).origin}/…; redirects are not followed` })
  const failed = a.logs().filter((l) => l.msg === 'delivery failed; will retry')
  t.match(failed, [{ status: '307', location: `${new URL(second.url).origin}/…` }, { status: '307', attempts: 2 }])
  t.same(leaks(a.logLines.join('')), [], 'the Location is logged by its origin only')
  t.notOk(a.logLines.some((l) => l.includes('/loot')))

  redirect = false
  a.clock!.advance(2000)
  await settle(a, scheduler)
  t.match(a.service.notifications.outbox.list(), [{ status: 'sent', attempts: 3 }], 'delivered once the receiver answers 2xx itself')
  t.equal(second.received.length, 0)
})

t.test('every Location a receiver may answer is shown by its origin at most', async (t) => {
  let location: string | undefined
  const server = await httpServer(t, (_req, res) => res.writeHead(302, location === undefined ? {} : { location }).end())
  const { attempt } = dispatcherFor(t, `${server.origin}${PATH_SECRET}`)
  const cases: Array<[string | undefined, string | undefined]> = [
    [`/relative${PATH_SECRET}?token=${QUERY_TOKEN}`, `${server.origin}/…`],
    [`https://hooks:${PASSWORD}@elsewhere.example.com:8443${PATH_SECRET}`, 'https://elsewhere.example.com:8443/…'],
    [`mailto:${QUERY_TOKEN}@example.com`, 'mailto:…'],
    ['http://[not-a-host', '[not a URL]'],
    [undefined, undefined],
  ]
  for (const [given, shown] of cases) {
    location = given
    const { outcome, log, row } = await attempt()
    t.equal(outcome, 'failed')
    t.equal(log.location, shown, `Location ${given ? redactWebhookUrl(given, server.origin) : 'absent'}`)
    t.equal(row.last_error, `302: receiver redirected to ${shown ?? 'nowhere'}; redirects are not followed`)
    t.same(leaks(JSON.stringify(log)), [])
  }
})

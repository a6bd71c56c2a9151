import { once } from 'node:events'
import { Writable } from 'node:stream'
import { Redis } from 'ioredis'
import t from 'tap'
import { freePort } from '../../bench/support.js'
import { createAuthorizer, type Decision, REDIS_OPTIONS } from '../../src/authorizer/decide.js'
import type { Scheduler } from '../../src/authorizer/limiter-mode.js'
import { buildApp } from '../../src/http/app.js'
import { serviceLogger } from '../../src/logger.js'
import { buildShared } from '../../src/service.js'
import { authorizerFixture, fakeWallClock, input, newSecret } from '../support/authorizer-fixtures.js'
import { redisProcess } from '../support/redis.js'
import { waitFor } from '../support/wait-for.js'

/**
 * A Redis outage with a real redis-server of the test's own: killed (SIGKILL) or frozen (SIGSTOP)
 * while decisions run, then back on the same port. That no decision waits on Redis after the
 * first failure is shown by what the decisions are (plain values, not promises: nothing to wait
 * on) and by the client sending no command at all, never by timing; the probe that turns shared
 * counting back on is run by the test's scheduler.
 */

const manualScheduler = () => {
  const due: Array<() => void> = []
  const scheduler: Scheduler = {
    after(_ms, run) {
      due.push(run)
      return () => void due.splice(due.indexOf(run), 1)
    },
  }
  return { scheduler, due, runNext: () => (due.shift() ?? (() => { throw new Error('no probe scheduled') }))() }
}

/** A client with the service's own options that counts the commands it sends. */
const countingClient = (url: string) => {
  const redis = new Redis(url, REDIS_OPTIONS)
  const sent = { n: 0 }
  const send = redis.sendCommand.bind(redis)
  redis.sendCommand = ((...args: Parameters<typeof send>) => {
    sent.n += 1
    return send(...args)
  }) as typeof redis.sendCommand
  return { redis, sent }
}

/** The next report of the limiter (a failure or a change of mode), as a promise. */
const reports = () => {
  const waiting: Array<(what: string) => void> = []
  const log: string[] = []
  const report = (what: string) => {
    log.push(what)
    waiting.splice(0).forEach((w) => w(what))
  }
  return { log, report, next: () => new Promise<string>((r) => waiting.push(r)) }
}

/** Auto-pipelined commands are sent on the next tick: counted after it. */
const tick = () => new Promise((r) => setImmediate(r))

const ALLOWED_OR_LIMITED = new Set(['allow', 'rate_limited'])

t.test('Redis killed under load: every decision is answered, none waits on Redis after the first failure, shared counting resumes', async (t) => {
  const server = await redisProcess(t, await freePort())
  const f = await authorizerFixture(t, { planReadLimit: 1_000_000, planWriteLimit: 1_000_000, authFailureLimit: 3 })
  const apiKey = await f.createStack()
  const tok = await f.generateToken(apiKey, { rate_limit: { read: 5, write: 5 } as never })
  const other = await f.generateToken(apiKey)
  const { redis, sent } = countingClient(server.url)
  t.teardown(() => redis.disconnect())
  const s = manualScheduler()
  const r = reports()
  // The window is the test's (a frozen wall clock), and nothing is reserved ahead of the next one.
  const wall = fakeWallClock(t)
  const a = createAuthorizer(f.deps, { redis, scheduler: s.scheduler, ahead: () => {}, onLimiterError: () => r.report('failure'), onLimitsChange: (m) => r.report(m) })
  t.teardown(() => a.close())
  const read = (secret = other.secret) => a.authorize(input({ apiKey, authorization: secret }))
  const reservedFor = async (uid: string) => Number(await redis.hget(`mt-rl:w:${Math.floor(wall.now / 1000)}`, `t:read:${uid}`))

  const warm = await Promise.all(Array.from({ length: 20 }, () => read()))
  t.ok(warm.every((d) => d.allowed), 'Redis up: allowed')
  // Reserved in slices while the twenty wait on one another's reservation: 1, 2, 4, 8, 16.
  const reserved = await reservedFor(other.uid)
  t.ok(reserved >= 20 && reserved <= 31, `counted in Redis (${reserved} units reserved for 20 decisions)`)
  t.equal(a.limits(), 'shared')
  t.ok(sent.n >= 5, `the command counter sees the reservations (${sent.n} commands)`)

  // Load: batches of 50 decisions in flight; Redis dies while a batch is in flight.
  const batches: Array<Promise<Decision[]>> = []
  for (let b = 0; b < 10; b++) {
    const batch = Promise.all(Array.from({ length: 50 }, () => read()))
    batches.push(batch)
    if (b === 4) await server.signal('SIGKILL')
    else await batch
  }
  const all = (await Promise.all(batches)).flat()
  t.equal(all.length, 500, 'every decision is answered')
  t.ok(all.every((d) => ALLOWED_OR_LIMITED.has(d.outcome)), 'as allowed (limits far above the load): scope and token still judged')
  t.equal(a.limits(), 'local')
  t.equal(r.log.filter((x) => x === 'local').length, 1, 'the mode changed once')

  const before = sent.n
  const decisions = [...Array.from({ length: 100 }, () => read()), ...Array.from({ length: 7 }, () => read(tok.secret))]
  t.notOk(decisions.some((d) => d instanceof Promise), 'while Redis is down every decision is a plain value: nothing to wait on')
  await tick()
  t.equal(sent.n, before, 'and no command was sent to Redis')
  t.same((decisions.slice(100) as Decision[]).map((d) => d.outcome), ['allow', 'allow', 'allow', 'allow', 'allow', 'rate_limited', 'rate_limited'], 'never unlimited: the token\'s 5 a second, counted here')
  const guesses = Array.from({ length: 4 }, () => a.authorize(input({ apiKey, authorization: newSecret(), clientAddress: '203.0.113.5' })) as Decision)
  t.same(guesses.map((d) => d.outcome), ['unauthorized', 'unauthorized', 'unauthorized', 'auth_throttled'], 'failed authentications are throttled in memory, synchronously')
  await tick()
  t.equal(sent.n, before, 'still no command')
  const metrics = await f.deps.metrics.metrics()
  t.match(metrics, /\nauthorizer_limiter_shared 0\n/, '/metrics: local')
  t.match(metrics, /\nauthorizer_limiter_failures_total [1-9]\d*\n/, '/metrics: failures counted')

  // A probe while Redis is still down fails and schedules the next; decisions stay local.
  t.equal(s.due.length, 1, 'a probe is scheduled')
  const probed = r.next()
  s.runNext()
  t.equal(await probed, 'failure', 'the probe fails while Redis is down')
  t.equal(s.due.length, 1, 'and the next one is scheduled')

  await server.restart()
  // A new window: the slice held from before the outage has lapsed.
  wall.advance(1000)
  // The client reconnects on its own (retryStrategy); the test waits for that event, then probes.
  if (redis.status !== 'ready') await once(redis, 'ready')
  const back = r.next()
  s.runNext()
  t.equal(await back, 'shared', 'the probe answered: shared counting is back by itself')
  t.equal(a.limits(), 'shared')
  const after = read()
  t.ok(after instanceof Promise, 'decisions count in Redis again')
  t.equal((await after).outcome, 'allow')
  t.ok((await reservedFor(other.uid)) >= 1, 'reserved in the restarted Redis')
  t.match(await f.deps.metrics.metrics(), /\nauthorizer_limiter_shared 1\n/, '/metrics: shared')
})

t.test('Redis killed between decisions: the closed connection alone turns counting local', async (t) => {
  const server = await redisProcess(t, await freePort())
  const f = await authorizerFixture(t, { planReadLimit: 1_000_000 })
  const apiKey = await f.createStack()
  const tok = await f.generateToken(apiKey)
  const { redis, sent } = countingClient(server.url)
  t.teardown(() => redis.disconnect())
  // Nothing reserved ahead of the next window on a timer: the commands counted are the test's.
  const a = createAuthorizer(f.deps, { redis, scheduler: manualScheduler().scheduler, ahead: () => {} })
  t.teardown(() => a.close())
  const read = () => a.authorize(input({ apiKey, authorization: tok.secret }))
  t.equal((await read()).outcome, 'allow')
  const closed = once(redis, 'close')
  await server.signal('SIGKILL')
  await closed
  const before = sent.n
  const d = read()
  t.notOk(d instanceof Promise, 'the first decision after the drop is a plain value: it never waits for a command to fail')
  t.equal((d as Decision).outcome, 'allow')
  await tick()
  t.equal(sent.n, before, 'no command sent')
  t.equal(a.limits(), 'local')
  t.match(await f.deps.metrics.metrics(), /\nauthorizer_limiter_failures_total 1\n/, 'one failure: the drop')
})

t.test('Redis frozen (SIGSTOP): after the first timeout no decision waits, though no command ever fails', async (t) => {
  const server = await redisProcess(t, await freePort())
  const f = await authorizerFixture(t, { planReadLimit: 1_000_000, planWriteLimit: 1_000_000 })
  const apiKey = await f.createStack()
  const tok = await f.generateToken(apiKey)
  const { redis, sent } = countingClient(server.url)
  t.teardown(() => redis.disconnect())
  const s = manualScheduler()
  const r = reports()
  // Nothing reserved ahead of the next window on a timer: one in flight when Redis froze would
  // hold the probe behind it in ioredis' auto-pipeline until its command timeout.
  const a = createAuthorizer(f.deps, { redis, scheduler: s.scheduler, ahead: () => {}, onLimiterError: () => r.report('failure'), onLimitsChange: (m) => r.report(m) })
  t.teardown(() => a.close())
  const read = () => a.authorize(input({ apiKey, authorization: tok.secret }))
  t.equal((await read()).outcome, 'allow')

  await server.signal('SIGSTOP')
  // The socket stays open and commands go unanswered: only the command timeout can end them.
  const first = Promise.all(Array.from({ length: 20 }, () => read()))
  t.ok((await first).every((d) => d.allowed), 'the decisions that met the freeze are answered, counted in memory')
  t.equal(a.limits(), 'local')
  const before = sent.n
  const later = Array.from({ length: 200 }, () => read())
  t.notOk(later.some((d) => d instanceof Promise), 'every later decision is a plain value while Redis is still frozen')
  await tick()
  t.equal(sent.n, before, 'none sent a command to the frozen Redis')

  const probe = r.next()
  s.runNext()
  t.notOk(read() instanceof Promise, 'a decision does not wait for the probe')
  await tick()
  t.equal(sent.n, before + 1, 'the probe is the one command, sent by the scheduler')
  t.equal(await probe, 'failure', 'the unanswered probe times out')

  await server.signal('SIGCONT')
  // Answers queued while frozen may come back first; probe until one answers (each settles by itself).
  while (a.limits() === 'local') {
    const settled = r.next()
    s.runNext()
    await settled
  }
  t.equal(a.limits(), 'shared', 'Redis answers again: shared counting resumes')
  t.same(r.log.filter((x) => x !== 'failure'), ['local', 'shared'], 'one change each way')
})

t.test('the service during an outage: /readyz 200 and "local", /metrics says so, one warning and one info line', async (t) => {
  const server = await redisProcess(t, await freePort())
  // The kill is seen by the connection closing, not by a timeout: a long one keeps a busy machine's
  // slow first count from opening the circuit before the outage.
  const f = await authorizerFixture(t, { redisUrl: `redis://127.0.0.1:${server.port}`, planReadLimit: 1_000_000, redisCommandTimeoutMs: 10_000 })
  const apiKey = await f.createStack()
  const tok = await f.generateToken(apiKey)
  const lines: Array<{ level: number; msg: string }> = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as { level: number; msg: string })
      done()
    },
  })
  const s = manualScheduler()
  const shared = buildShared(f.deps, serviceLogger('info', sink), s.scheduler)
  t.teardown(() => shared.close())
  const app = await buildApp(shared, { logger: false })
  t.teardown(() => app.close())
  const ask = () => app.inject({ method: 'GET', url: '/v3/authorize', headers: { api_key: apiKey, authorization: tok.secret, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v3/assets' } })
  const readyz = async () => (await app.inject({ method: 'GET', url: '/readyz' })).json() as { ready: boolean; limits: string }

  t.equal((await ask()).statusCode, 200)
  t.match(await readyz(), { ready: true, limits: 'shared' })
  await server.signal('SIGKILL')
  const codes = await Promise.all(Array.from({ length: 30 }, () => ask()))
  t.ok(codes.every((c) => c.statusCode === 200), 'forward-auth answers 200 through the outage')
  t.equal(codes.at(-1)?.headers['x-ratelimit-remaining'], '999970', 'counted in memory: 30 of 1,000,000')
  const res = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(res.statusCode, 200, '/readyz stays 200')
  t.match(res.json(), { ready: true, limits: 'local' })
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, /\nauthorizer_limiter_shared 0\n/)
  t.match(metrics, /\nauthorizer_limiter_failures_total [1-9]\d*\n/)
  const warnings = lines.filter((l) => l.level === 40)
  t.equal(warnings.length, 1, 'one warning for the whole outage, not one per request')
  t.match(warnings[0]?.msg, /counting in this instance's memory/)

  t.equal(lines.filter((l) => /^Redis answers again/.test(l.msg)).length, 0, 'no info line while Redis is down')
  await server.restart()
  // The service's own client reconnects by itself; the test runs each probe once the last has failed.
  await waitFor(
    () => {
      if (s.due.length > 0) s.runNext()
      return shared.authorizer.limits() === 'shared'
    },
    { label: 'shared counting back', timeoutMs: 10_000 },
  )
  t.match(await readyz(), { ready: true, limits: 'shared' })
  t.same(lines.filter((l) => /^Redis answers again/.test(l.msg)).map((l) => l.level), [30], 'one info line when it comes back')
  t.equal(lines.filter((l) => l.level === 40).length, 1, 'no further warning')
  t.equal((await ask()).headers['x-ratelimit-remaining'], '999999', 'counted in the restarted Redis')
})

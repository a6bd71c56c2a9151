import t from 'tap'
import { type Failures, limiter, type Scheduler, type SharedCounting } from '../../src/authorizer/limiter-mode.js'
import { ClassLimits, type LimitCheck } from '../../src/authorizer/rate-limits.js'

/** A scheduler that runs nothing until the test says so. */
const manualScheduler = () => {
  const due: Array<{ delayMs: number; run: () => void }> = []
  const scheduler: Scheduler = {
    after(delayMs, run) {
      const entry = { delayMs, run }
      due.push(entry)
      return () => void due.splice(due.indexOf(entry), 1)
    },
  }
  return {
    scheduler,
    due,
    runNext() {
      const next = due.shift()
      if (!next) throw new Error('nothing scheduled')
      next.run()
    },
  }
}

/** Shared counting whose every call is a promise the test settles, as a Redis that hangs or answers. */
const fakeShared = () => {
  const pending: Array<{ kind: string; resolve: (v: unknown) => void; reject: (e: unknown) => void }> = []
  const call = <A>(kind: string) => new Promise<A>((resolve, reject) => pending.push({ kind, resolve: resolve as (v: unknown) => void, reject }))
  const shared: SharedCounting = {
    check: () => call<LimitCheck>('check'),
    countFailure: () => call<Failures>('countFailure'),
    probe: () => call('probe'),
  }
  return { shared, pending }
}

const limits = () => new ClassLimits('t:read:x', 's:read:k', 2, 10)
const answered: LimitCheck = { exceeded: undefined, tokenCurrent: 7, tokenTtl: 500, stackCurrent: 7, stackTtl: 500 }
const flush = () => new Promise((r) => setImmediate(r))

t.test('the first failure turns counting local; nothing waits on the shared counters after it', async (t) => {
  const { shared, pending } = fakeShared()
  const s = manualScheduler()
  const changes: unknown[] = []
  const failures: unknown[] = []
  const l = limiter(shared, { scheduler: s.scheduler, onChange: (m, e) => changes.push([m, e]), onFailure: (e) => failures.push(e) })
  const lim = limits()

  t.equal(l.mode(), 'shared')
  const one = l.check(lim)
  const two = l.check(lim)
  t.ok(one instanceof Promise && two instanceof Promise, 'shared counts are asked of the shared counters')
  pending.shift()?.resolve(answered)
  t.same(await one, answered, 'an answer is used as given')

  const boom = new Error('Command timed out')
  pending.shift()?.reject(boom)
  const fellBack = await two
  t.equal(fellBack.tokenCurrent, 1, 'the failed request is counted in memory, not let through uncounted')
  t.equal(l.mode(), 'local')
  t.same(changes, [['local', boom]], 'one change, with the failure that caused it')
  t.equal(s.due.length, 1, 'one probe is scheduled')

  const after = [l.check(lim), l.check(lim), l.countFailure('203.0.113.7', 1), l.countFailure('203.0.113.7', 1)]
  t.notOk(after.some((x) => x instanceof Promise), 'every later count is answered synchronously')
  t.equal(pending.length, 0, 'and none reaches the shared counters')
  t.same(
    after.slice(0, 2).map((c) => (c as LimitCheck).exceeded),
    [undefined, 'token'],
    'the local count enforces the whole limit of 2 (the failed request counted first)',
  )
  t.same(after.slice(2).map((c) => (c as Failures).throttled), [false, true], 'failed authentications are throttled locally too')
  t.same(failures, [boom], 'one failure reported')
})

t.test('failures in flight together open the circuit once', async (t) => {
  const { shared, pending } = fakeShared()
  const s = manualScheduler()
  const changes: string[] = []
  const l = limiter(shared, { scheduler: s.scheduler, onChange: (m) => changes.push(m) })
  const all = [l.check(limits()), l.countFailure('198.51.100.1', 5), l.check(limits())]
  for (const p of pending.splice(0)) p.reject(new Error('Connection is closed.'))
  const settled = await Promise.all(all)
  t.equal(settled.length, 3, 'every count is answered')
  t.same(changes, ['local'])
  t.equal(s.due.length, 1, 'one probe, not one per failure')
})

t.test('the probe runs off the request path until the shared counters answer, then counting is shared again', async (t) => {
  const { shared, pending } = fakeShared()
  const s = manualScheduler()
  const changes: string[] = []
  const failures: unknown[] = []
  const l = limiter(shared, { scheduler: s.scheduler, probeEveryMs: 250, onChange: (m) => changes.push(m), onFailure: (e) => failures.push(e) })
  const first = l.check(limits())
  pending.shift()?.reject(new Error('down'))
  await first
  t.equal(s.due[0]?.delayMs, 250)

  s.runNext()
  t.same(pending.map((p) => p.kind), ['probe'], 'the scheduler, not a request, sends the probe')
  t.equal(l.mode(), 'local', 'still local while the probe is out')
  t.notOk(l.check(limits()) instanceof Promise, 'a decision meanwhile does not wait for the probe')
  pending.shift()?.reject(new Error('still down'))
  await flush()
  t.equal(l.mode(), 'local')
  t.equal(s.due.length, 1, 'a failed probe schedules the next')
  t.equal(failures.length, 2, 'a failed probe is a failure')

  s.runNext()
  pending.shift()?.resolve('PONG')
  await flush()
  t.equal(l.mode(), 'shared', 'an answered probe closes the circuit by itself')
  t.same(changes, ['local', 'shared'])
  t.equal(s.due.length, 0, 'no probing while shared')
  t.ok(l.check(limits()) instanceof Promise, 'counts go to the shared counters again')
  t.same(pending.map((p) => p.kind), ['check'])
})

t.test('a closed connection turns counting local before any count fails', async (t) => {
  const { shared, pending } = fakeShared()
  const s = manualScheduler()
  const changes: string[] = []
  const failures: unknown[] = []
  const l = limiter(shared, { scheduler: s.scheduler, onChange: (m) => changes.push(m), onFailure: (e) => failures.push(e) })
  l.down(new Error('closed'))
  t.equal(l.mode(), 'local')
  t.notOk(l.check(limits()) instanceof Promise, 'the next count is local')
  t.equal(pending.length, 0)
  l.down(new Error('closed again'))
  t.same(changes, ['local'], 'reconnection attempts closing again change nothing')
  t.equal(failures.length, 1, 'and are not counted again')
  t.equal(s.due.length, 1, 'one probe')
  l.close()
})

t.test('closing stops the probing', async (t) => {
  const { shared, pending } = fakeShared()
  const s = manualScheduler()
  const l = limiter(shared, { scheduler: s.scheduler })
  const c = l.check(limits())
  pending.shift()?.reject(new Error('down'))
  await c
  t.equal(s.due.length, 1)
  l.close()
  t.equal(s.due.length, 0, 'the scheduled probe is cancelled')
})

t.test('a probe answered after closing changes nothing', async (t) => {
  const { shared, pending } = fakeShared()
  const s = manualScheduler()
  const changes: string[] = []
  const l = limiter(shared, { scheduler: s.scheduler, onChange: (m) => changes.push(m) })
  const c = l.check(limits())
  pending.shift()?.reject(new Error('down'))
  await c
  s.runNext()
  l.close()
  pending.shift()?.reject(new Error('down'))
  await flush()
  t.equal(s.due.length, 0, 'no probe scheduled after close')
  t.same(changes, ['local'])
})

t.test('without shared counting: local from the start, nothing scheduled', async (t) => {
  const s = manualScheduler()
  const l = limiter(undefined, { scheduler: s.scheduler })
  t.equal(l.mode(), 'local')
  t.notOk(l.check(limits()) instanceof Promise)
  t.equal(s.due.length, 0)
  l.close()
})

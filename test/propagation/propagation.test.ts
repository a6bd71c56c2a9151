/**
 * startPropagation with a registry and clock in memory: what an answer waits for, what it says,
 * and what an instance publishes.
 */
import t from 'tap'
import { type AppliedSource, startPropagation } from '../../src/propagation/propagation.js'
import type { InstanceEntry, InstanceRegistry } from '../../src/propagation/registry.js'

const memoryRegistry = () => {
  const entries = new Map<string, number>()
  let failing = false
  const registry: InstanceRegistry & { entries: Map<string, number>; fail(on: boolean): void } = {
    entries,
    fail: (on) => {
      failing = on
    },
    publish: async ({ id, position }: InstanceEntry) => {
      entries.set(id, position)
    },
    live: async () => {
      if (failing) throw new Error('registry down')
      return [...entries].map(([id, position]) => ({ id, position }))
    },
    close: async (id) => {
      entries.delete(id)
    },
  }
  return registry
}

const source = (position: number, ready = true) => {
  const listeners = new Set<() => void>()
  const s = {
    position,
    ready,
    onApplied: (l: () => void) => {
      listeners.add(l)
      return () => listeners.delete(l)
    },
    apply(to: number) {
      s.position = to
      for (const l of listeners) l()
    },
  }
  return s satisfies AppliedSource
}

/** A clock that only the waits move: each poll advances it by the pause asked for. */
const fakeTime = (onWait: (now: number) => void = () => {}) => {
  let now = 0
  return {
    now: () => now,
    wait: async (ms: number) => {
      now += ms
      onWait(now)
    },
  }
}

t.test('every live instance at the position: answered at once', async (t) => {
  const registry = memoryRegistry()
  registry.entries.set('b', 10)
  registry.entries.set('c', 11)
  const time = fakeTime()
  const p = startPropagation({ id: 'a', registry, applied: source(10), timeoutMs: 2000, ...time })
  t.teardown(() => p.close())
  t.same(await p.confirm(10), { instances: 3, confirmed: 3, ms: 0 })
  t.equal(registry.entries.get('a'), 10, 'the instance published its own position at start')
})

t.test('waits, polling, until a lagging instance reaches the position', async (t) => {
  const registry = memoryRegistry()
  registry.entries.set('b', 4)
  const time = fakeTime((now) => {
    if (now >= 30) registry.entries.set('b', 5)
  })
  const p = startPropagation({ id: 'a', registry, applied: source(5), timeoutMs: 2000, pollMs: 5, ...time })
  t.teardown(() => p.close())
  t.same(await p.confirm(5), { instances: 2, confirmed: 2, ms: 30 }, 'answered at the first read after b applied the event')
})

t.test('an instance that never confirms: answered at the timeout, one short', async (t) => {
  const registry = memoryRegistry()
  registry.entries.set('b', 4)
  registry.entries.set('c', 9)
  const time = fakeTime()
  const p = startPropagation({ id: 'a', registry, applied: source(9), timeoutMs: 100, pollMs: 7, ...time })
  t.teardown(() => p.close())
  t.same(await p.confirm(9), { instances: 3, confirmed: 2, ms: 100 }, 'the last pause is cut to end at the timeout')
  const zero = startPropagation({ id: 'z', registry, applied: source(9), timeoutMs: 0, ...fakeTime() })
  t.teardown(() => zero.close())
  t.same(await zero.confirm(9), { instances: 4, confirmed: 3, ms: 0 }, 'a timeout of 0 answers with what is confirmed already')
})

t.test('an unreadable registry: answered at once, only this instance confirmed of those last seen', async (t) => {
  const registry = memoryRegistry()
  registry.entries.set('b', 1)
  const errors: string[] = []
  const p = startPropagation({ id: 'a', registry, applied: source(2), timeoutMs: 2000, ...fakeTime(), onError: (_e, when) => errors.push(when) })
  t.teardown(() => p.close())
  t.same(await p.confirm(1), { instances: 2, confirmed: 2, ms: 0 })
  registry.fail(true)
  t.same(await p.confirm(2), { instances: 2, confirmed: 1, ms: 0 }, 'b, seen before the outage, is not counted as confirmed')
  t.same(errors, ['read'])
  const lone = startPropagation({ id: 'z', registry, applied: source(2), timeoutMs: 2000, ...fakeTime(), onError: () => {} })
  t.teardown(() => lone.close())
  t.same(await lone.confirm(2), { instances: 1, confirmed: 1, ms: 0 }, 'nothing ever read: only itself is known')
})

t.test('publishes after each applied batch once caught up, and removes its entry on close', async (t) => {
  const registry = memoryRegistry()
  const applied = source(0, false)
  const p = startPropagation({ id: 'a', registry, applied, timeoutMs: 2000, heartbeatMs: 60_000 })
  applied.apply(3)
  await Promise.resolve()
  t.notOk(registry.entries.has('a'), 'not published before the read models have caught up: nothing is served yet')
  applied.ready = true
  applied.apply(4)
  applied.apply(6)
  await new Promise((r) => setImmediate(r))
  t.equal(registry.entries.get('a'), 6, 'batches applied while a publish was under way are covered by one more')
  await p.close()
  t.notOk(registry.entries.has('a'), 'gone once closed: a stopped instance is not waited for')
})

t.test('closing with the registry unreachable: reported, not thrown (the entry expires by itself)', async (t) => {
  const registry = memoryRegistry()
  const errors: string[] = []
  const p = startPropagation({ id: 'a', registry, applied: source(1), timeoutMs: 2000, heartbeatMs: 60_000, onError: (_e, when) => errors.push(when) })
  registry.close = async () => {
    throw new Error('registry down')
  }
  await p.close()
  t.same(errors, ['publish'])
})

import t from 'tap'
import { ExpiringStore } from '../../src/http/console-sessions.js'

t.test('ExpiringStore: entries end at their expiry, a take is one-shot, the oldest go beyond the maximum', async (t) => {
  let now = 1000
  const store = new ExpiringStore<string>(() => now, 2)
  store.set('a', 'A', 2000)
  t.equal(store.get('a'), 'A')
  now = 2000
  t.equal(store.get('a'), undefined, 'expired at its expiry instant')
  store.set('b', 'B', 5000)
  t.equal(store.take('b'), 'B')
  t.equal(store.take('b'), undefined, 'taken once')
  store.set('c', 'C', 5000)
  store.set('d', 'D', 5000)
  store.set('c', 'C2', 5000) // re-set: now the newest
  store.set('e', 'E', 5000)
  t.equal(store.get('d'), undefined, 'the oldest entry went when a third arrived')
  t.equal(store.get('c'), 'C2')
  t.equal(store.get('e'), 'E')
  store.delete('e')
  t.equal(store.get('e'), undefined)
})

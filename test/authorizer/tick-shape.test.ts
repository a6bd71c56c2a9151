import t from 'tap'
import { keptTickObject } from '../../src/authorizer/tick-shape.js'

// bench:authorizer measures what keeping it buys; this checks that what is kept is one of
// nextTick's queue entries (Node reports them to async hooks as TickObject), not nothing.
t.test('one nextTick entry is held for the life of the process', async (t) => {
  const kept = keptTickObject() as Record<string | symbol, unknown> | undefined
  t.type(kept, 'object')
  if (kept === undefined) return
  t.type(kept.callback, 'function')
  t.ok('args' in kept, 'has the args of a queue entry')
  const symbols = Object.getOwnPropertySymbols(kept).map((s) => s.description)
  // From Node 24 each entry also carries its AsyncLocalStorage context (AsyncContextFrame).
  const frame = Number(process.versions.node.split('.')[0]) >= 24 ? ['kAsyncContextFrame'] : []
  t.same(symbols.sort(), ['async_id_symbol', ...frame, 'trigger_async_id_symbol'])
  t.type(kept[Object.getOwnPropertySymbols(kept)[0] as symbol], 'number')
})

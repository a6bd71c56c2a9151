/** The Lease alone: which window a unit belongs to, and how much is asked for ahead. */
import t from 'tap'
import { Lease } from '../../src/authorizer/lease.js'

const W = 1000
const at = (index: number, ms = 0) => index * W + ms

t.test('a unit is spent only in the window it was granted for', async (t) => {
  const lease = new Lease(10)
  t.equal(lease.spend(at(5)), undefined, 'nothing held: reserve first')
  lease.granted({ index: 5, granted: 2, tokenCount: 2, stackCount: 7 }, 5, 100, 100)
  t.match(lease.spend(at(5, 400)), { exceeded: undefined, tokenCurrent: 1, stackCurrent: 6, tokenTtl: 600 })
  t.equal(lease.spend(at(6)), undefined, 'the window is over: its last unit lapses')
  lease.granted({ index: 6, granted: 1, tokenCount: 1, stackCount: 1 }, 5, 100, 100)
  lease.granted({ index: 5, granted: 1, tokenCount: 3, stackCount: 8 }, 5, 100, 100)
  t.match(lease.spend(at(5, 900)), { exceeded: undefined, tokenCurrent: 3 }, "a grant for now's window is spent now, even once the next window's slice is held")
  t.match(lease.spend(at(6, 1)), { exceeded: undefined, tokenCurrent: 1 }, "and the next window's after")
  lease.granted({ index: 5, granted: 3, tokenCount: 9, stackCount: 9 }, 6, 100, 100)
  t.equal(lease.spend(at(6, 1)), undefined, 'a grant for a window already past is dropped')
})

t.test('a slice reserved ahead waits for its window; a refusal lasts until the window ends', async (t) => {
  const lease = new Lease(10)
  lease.granted({ index: 5, granted: 1, tokenCount: 1, stackCount: 1 }, 5, 100, 100)
  lease.granted({ index: 6, granted: 0, tokenCount: 100, stackCount: 50 }, 5, 100, 100)
  t.match(lease.spend(at(5, 10)), { exceeded: undefined, tokenCurrent: 1 }, 'the current window is spent first')
  t.equal(lease.spend(at(5, 20)), undefined, 'then it is empty: reserve')
  t.match(lease.spend(at(6, 10)), { exceeded: 'token', tokenTtl: 990 }, 'the next window, refused ahead for the token, refuses from memory')
  t.match(lease.spend(at(6, 999)), { exceeded: 'token' })
  t.equal(lease.spend(at(7)), undefined, 'until it ends')
})

t.test('how much is asked for: doubled when a slice runs out, ahead by recent demand and room', async (t) => {
  const lease = new Lease(10)
  t.equal(lease.want(5), 1, 'a first slice of 1')
  lease.granted({ index: 5, granted: 1, tokenCount: 1, stackCount: 1 }, 5, 1000, 1000)
  lease.spend(at(5))
  t.equal(lease.want(5), 2, 'ran out within its window: twice the last slice')
  lease.granted({ index: 5, granted: 2, tokenCount: 3, stackCount: 3 }, 5, 1000, 1000)
  lease.spend(at(5, 1))
  lease.spend(at(5, 2))
  t.equal(lease.wantNext(5), 6, 'ahead, with both budgets under half spent: twice the 3 spent')
  lease.granted({ index: 6, granted: 6, tokenCount: 600, stackCount: 6 }, 5, 1000, 1000)
  t.equal(lease.wantNext(5), 3, 'once a budget is half spent, exactly the demand: spare units would deprive others')
  t.equal(lease.wantNext(7), 1, 'a window this lease spent nothing in: 1')
  const capped = new Lease(4)
  capped.granted({ index: 1, granted: 4, tokenCount: 4, stackCount: 4 }, 1, 1000, 1000)
  for (let i = 0; i < 4; i++) capped.spend(at(1, i))
  t.equal(capped.wantNext(1), 4, 'never more than the cap (1/32 of the smaller limit)')
  t.equal(capped.want(2), 4, "a later window's first slice: the last window's demand, capped")
})

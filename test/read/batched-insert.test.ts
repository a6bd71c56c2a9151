import Database from 'better-sqlite3'
import t from 'tap'
import { BatchedInsert, ROWS_PER_INSERT } from '../../src/read/batched-insert.js'

t.test('rows go in whole, in order, several to a statement and the rest on flush', async (t) => {
  const db = new Database(':memory:')
  t.teardown(() => db.close())
  db.exec('CREATE TABLE r (n INTEGER PRIMARY KEY, a TEXT, b TEXT)')
  const count = () => db.prepare<[], number>('SELECT COUNT(*) FROM r').pluck().get()
  const insert = new BatchedInsert(db, 'INSERT INTO r', 3)
  const total = 2 * ROWS_PER_INSERT + 3
  // One flat array, rows starting at every third value, as a window of audit rows arrives.
  const flat = Array.from({ length: total }, (_, i) => [i + 1, `a${i + 1}`, i % 2 === 0 ? null : `b${i + 1}`]).flat()
  for (let from = 0; from < flat.length; from += 3) insert.add(flat, from)
  t.equal(count(), 2 * ROWS_PER_INSERT, 'full statements only, until flush')
  insert.flush()
  t.same(db.prepare('SELECT * FROM r ORDER BY n').raw().all(), Array.from({ length: total }, (_, i) => flat.slice(3 * i, 3 * i + 3)))
  insert.flush()
  t.equal(count(), total, 'a second flush inserts nothing again')
})

import Database from 'better-sqlite3'
import t from 'tap'
import type { Recorded } from '../../src/domain/events.js'
import { applierOf } from '../../src/read/applier.js'
import { put, replace, type Change, type Current, type Projection, type Table } from '../../src/read/projection.js'
import { createTables, identity } from '../../src/read/schema.js'

// A toy projection on the engine: `tags` grouped by owner (not its primary key), read by evolve;
// `log` written once per event and never read.
type Tag = { readonly id: string; readonly owner: string; readonly n: number }
type Entry = { readonly position: number; readonly owner: string }
const tags: Table<Tag> = {
  name: 'tags',
  columns: { id: 'TEXT PRIMARY KEY', owner: 'TEXT NOT NULL', n: 'INTEGER NOT NULL' },
  key: ['owner'],
  indexes: [{ name: 'by_owner', on: 'owner', forKey: true }],
}
const log: Table<Entry> = { name: 'log', columns: { position: 'INTEGER PRIMARY KEY', owner: 'TEXT NOT NULL' }, withoutRowid: false, key: ['position'] }
const undeclared: Table<Entry> = { ...log, name: 'other' }

/** Each event of owner O: O's tags each count one more, and tag `O-<position>` joins them; `api_key` "drop" empties the group. */
const evolve = (current: Current, { event, position }: Recorded): readonly Change[] => {
  const owner = event.data.api_key
  if (owner === 'stray') return [put(undeclared, { position, owner })]
  const entry = put(log, { position, owner })
  if (owner === 'drop') return [entry, replace(tags, 'a', [])]
  const next = current.rows(tags, owner).map((r) => ({ id: r.id, owner, n: r.n + 1 }))
  return [entry, replace(tags, owner, [...next, { id: `${owner}-${position}`, owner, n: 0 }])]
}
const toy: Projection = { name: 'toy', version: 1, file: 'read-models', tables: [tags as Table, log as Table], handles: new Set(['StackCreated']), evolve }

let position = 0
const rec = (owner: string): Recorded => {
  position += 1
  const metadata = { actor: 'u', occurred_at: '2026-01-01T00:00:00.000Z', request_id: 'r', remote_addr: '::1', schema_version: 1 }
  return { event: { type: 'StackCreated', data: { api_key: owner, name: '', description: '', owner_email: 'o@example.com', owner_uid: 'u' } }, metadata, stream: `stack-${owner}`, revision: 0, position, id: `e${position}` }
}

const setup = () => {
  const db = new Database(':memory:')
  createTables(db, toy, identity)
  return { db, applier: applierOf(db, toy, identity), rows: (table: string) => db.prepare(`SELECT * FROM ${table} ORDER BY 1`).all() }
}

t.test('a group is read once, kept and written at the end; a table evolve never reads is written at once', async (t) => {
  const { db, applier, rows } = setup()
  position = 0
  db.transaction(() => {
    applier.apply(rec('a'))
    applier.apply(rec('a'))
    applier.apply(rec('b'))
    t.same(rows('log'), [{ position: 1, owner: 'a' }, { position: 2, owner: 'a' }, { position: 3, owner: 'b' }], 'the log, at once')
    t.equal(applier.held(), 2, 'the groups of a and b, in memory')
    applier.flush()
  })()
  t.same(rows('tags'), [
    { id: 'a-1', owner: 'a', n: 1 },
    { id: 'a-2', owner: 'a', n: 0 },
    { id: 'b-3', owner: 'b', n: 0 },
  ])
  t.equal(applier.held(), 0, 'nothing held after a flush')
  db.transaction(() => {
    applier.apply(rec('drop'))
    applier.flush()
  })()
  t.same(rows('tags'), [{ id: 'b-3', owner: 'b', n: 0 }], 'an emptied group is deleted, whichever rows it had')
})

t.test('discard forgets what a failed transaction held; the rows in SQLite are read again', async (t) => {
  const { db, applier, rows } = setup()
  position = 0
  db.transaction(() => {
    applier.apply(rec('a'))
    applier.flush()
  })()
  const failing = db.transaction(() => {
    applier.apply(rec('a'))
    throw new Error('boom')
  })
  t.throws(() => failing(), /boom/)
  applier.discard()
  t.equal(applier.held(), 0)
  db.transaction(() => {
    applier.apply(rec('a'))
    applier.flush()
  })()
  t.same(rows('tags'), [{ id: 'a-1', owner: 'a', n: 1 }, { id: 'a-3', owner: 'a', n: 0 }], 'the failed event left nothing')
  t.same(rows('log').map((r) => (r as Entry).position), [1, 3])
})

t.test('a change to a table the projection does not declare is refused', async (t) => {
  const { applier } = setup()
  t.throws(() => applier.apply(rec('stray')), /projection toy used table other, which it does not declare/)
})

import { join } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import { auditLog, PROJECTIONS, PROJECTIONS_MODULE, READ_MODEL_PROJECTIONS } from '../../projections/index.js'
import { SqliteEventStore } from '../../src/eventstore/sqlite.js'
import { EventDecodeError } from '../../src/domain/decode.js'
import { Projector } from '../../src/read/projector.js'
import { createQueries } from '../../projections/queries.js'
import { rebuildFiles } from '../../src/read/rebuild-files.js'
import { NOT_KEPT } from '../../src/cli/rebuild-run.js'
import { openReadModels } from '../../src/service.js'
import { allEvents, API_KEY, cli, knownHistory, projectedHistory } from '../cli/fixtures/history.js'

const READ_MODEL_TABLES = ['token_secrets', 'revoked_secrets', 'tokens', 'stacks', 'stack_members', 'stack_policies']
const AUDIT_TABLES = ['audit_log', 'audit_titles']

const tablesOf = (file: string): string[] => {
  const db = new Database(file, { readonly: true })
  try {
    return db.prepare<[], string>(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`).pluck().all()
  } finally {
    db.close()
  }
}

const checkpointsOf = (file: string) => {
  const db = new Database(file, { readonly: true })
  try {
    return db.prepare<[], { name: string }>(`SELECT name FROM projection_checkpoints ORDER BY name`).pluck().all()
  } finally {
    db.close()
  }
}


const dump = (db: Database.Database) =>
  Object.fromEntries(
    [...READ_MODEL_TABLES, ...AUDIT_TABLES, 'main.projection_checkpoints', 'audit.projection_checkpoints'].map((table) => [
      table,
      db.prepare(`SELECT * FROM ${table} ORDER BY 1, 2`).all(),
    ]),
  )

t.test('beside EventStoreDB the audit log lives in audit.db with its own checkpoint; queries read both files through one connection', async (t) => {
  const { dir, db, head } = await projectedHistory(t, PROJECTIONS)
  t.same(tablesOf(join(dir, 'read-models.db')), ['projection_checkpoints', 'revoked_secrets', 'stack_members', 'stack_policies', 'stacks', 'token_secrets', 'tokens'])
  t.same(tablesOf(join(dir, 'audit.db')), ['audit_log', 'audit_titles', 'projection_checkpoints'])
  t.same(checkpointsOf(join(dir, 'read-models.db')), ['stack-members', 'stack-policy', 'token-by-hash', 'tokens-by-stack'])
  t.same(checkpointsOf(join(dir, 'audit.db')), ['audit-log'])
  const q = createQueries(db)
  const { logs, count } = q.audit(API_KEY, { limit: 1, skip: 0 })
  t.ok(count > 0, `${count} entries for the stack`)
  t.same(q.auditEntry(API_KEY, (logs[0] as { uid: string }).uid), logs[0], 'an entry by its uid')
  t.ok(q.tokens(API_KEY).length > 0, 'and the tokens, from read-models.db')
  t.same(db.prepare(`SELECT position FROM audit.projection_checkpoints`).pluck().all(), [head])
  t.equal(db.pragma('audit.page_size', { simple: true }), 16_384)
})

t.test('a data dir of the single-file layout comes up with the audit log rebuilt into audit.db', async (t) => {
  const dir = await knownHistory(t)
  const store = new SqliteEventStore(join(dir, 'events.db'))
  t.teardown(() => store.close())
  const events = await allEvents(store)
  // The layout before audit.db: every projection's tables and checkpoint in read-models.db.
  const old = new Database(join(dir, 'read-models.db'))
  new Projector(old, store, PROJECTIONS).apply(events)
  old.exec('CREATE TABLE audit_log__rbdead (x); CREATE TABLE audit_titles__olddead (x)')
  const tokensBefore = old.prepare('SELECT * FROM tokens ORDER BY uid').all()
  old.close()

  const db = openReadModels(dir, PROJECTIONS)
  t.teardown(() => db.close())
  t.same(tablesOf(join(dir, 'read-models.db')), ['projection_checkpoints', 'revoked_secrets', 'stack_members', 'stack_policies', 'stacks', 'token_secrets', 'tokens'], 'the old audit tables are gone')
  t.same(checkpointsOf(join(dir, 'read-models.db')), ['stack-members', 'stack-policy', 'token-by-hash', 'tokens-by-stack'], 'and their checkpoint')
  const projector = new Projector(db, store, PROJECTIONS)
  t.same(db.prepare(`SELECT position FROM audit.projection_checkpoints WHERE name = 'audit-log'`).pluck().get(), 0, 'the audit log starts from 0')
  t.equal(projector.position, 0)
  projector.start()
  await projector.waitFor(events.length)
  await projector.stop()
  t.equal(createQueries(db).audit(API_KEY, { limit: 100, skip: 0 }).count, events.filter((e) => e.stream === `stack-${API_KEY}`).length)
  t.same(db.prepare('SELECT * FROM tokens ORDER BY uid').all(), tokensBefore, 'read-models.db kept its rows')
  t.same((await rebuildFiles(db, store, PROJECTIONS)).projections, PROJECTIONS.map((p) => p.name), 'and both files rebuild')
})

t.test('on the embedded store `rebuild audit-log` has nothing to rebuild and changes nothing', async (t) => {
  const { dir, db } = await projectedHistory(t)
  const before = READ_MODEL_TABLES.map((table) => db.prepare(`SELECT * FROM ${table} ORDER BY 1, 2`).all())
  const r = await cli(dir, 'rebuild', 'audit-log')
  t.equal(r.code, 0, r.err)
  t.equal(r.out, '')
  t.equal(r.err, `audit-log: ${NOT_KEPT}\n`)
  const both = await cli(dir, 'rebuild', 'audit-log', 'stack-members')
  t.equal(both.code, 0, both.err)
  t.match(both.out, /^rebuilt stack-members from/)
  t.same(READ_MODEL_TABLES.map((table) => db.prepare(`SELECT * FROM ${table} ORDER BY 1, 2`).all()), before)
  t.same(tablesOf(join(dir, 'read-models.db')), ['projection_checkpoints', 'revoked_secrets', 'stack_members', 'stack_policies', 'stacks', 'token_secrets', 'tokens'], 'no audit table in read-models.db')
})

t.test('the audit-log projection alone (the EventStoreDB path) rebuilds audit.db and leaves read-models.db as it was', async (t) => {
  const { dir, db, store, head } = await projectedHistory(t, PROJECTIONS)
  const before = dump(db)
  const tokenSchema = tablesOf(join(dir, 'read-models.db'))
  db.exec('CREATE TABLE audit.audit_log__rbdead (x)')
  const r = await rebuildFiles(db, store, [auditLog])
  t.same(r.projections, ['audit-log'])
  t.equal(r.position, head)
  t.same(dump(db), before)
  t.same(tablesOf(join(dir, 'read-models.db')), tokenSchema)
  t.same(tablesOf(join(dir, 'audit.db')), ['audit_log', 'audit_titles', 'projection_checkpoints'], 'what an interrupted rebuild left is gone')
})

const dumpReadModels = (db: Database.Database) =>
  Object.fromEntries([...READ_MODEL_TABLES, 'projection_checkpoints'].map((table) => [table, db.prepare(`SELECT * FROM ${table} ORDER BY 1, 2`).all()]))

t.test('the parallel rebuild gives the same rows whichever thread takes which streams', async (t) => {
  const { db, store, head } = await projectedHistory(t)
  const live = dumpReadModels(db)
  for (const share of [0, 0.5, 1]) {
    const r = await rebuildFiles(db, store, READ_MODEL_PROJECTIONS, { share, pageSize: 7, catalog: PROJECTIONS_MODULE })
    t.same(dumpReadModels(db), live, `main thread's share ${share}`)
    t.equal(r.events, head, 'every event read once, by one thread or the other')
    t.ok(r.swapMs >= 0)
  }
  t.ok(head > 100, 'more events than one window')
  await rebuildFiles(db, store, READ_MODEL_PROJECTIONS, { share: 0.5, pageSize: 100, catalog: PROJECTIONS_MODULE })
  t.same(dumpReadModels(db), live, 'windows of 100 events')
  // Projections that the catalog does not list (here: copies) cannot be found by a worker thread.
  const copies = READ_MODEL_PROJECTIONS.map((p) => ({ ...p }))
  t.equal((await rebuildFiles(db, store, copies, { share: 0, catalog: PROJECTIONS_MODULE })).events, head, 'projections the catalog does not list: one thread')
  t.equal((await rebuildFiles(db, store, READ_MODEL_PROJECTIONS, { share: 0 })).events, head, 'no catalog: one thread')
  t.same(dumpReadModels(db), live)
})

t.test('a failure on either thread leaves every live table as it was and no fresh table behind', async (t) => {
  const { dir, db, store, head } = await projectedHistory(t)
  const before = dumpReadModels(db)
  const events = new Database(join(dir, 'events.db'))
  events.prepare(`INSERT INTO events (id, stream, revision, type, data, metadata, recorded_at) VALUES ('bad', 'stack-x', 0, 'TokenRevoked', '{', '{}', 'now')`).run()
  events.close()
  // share 1: the main thread reads every stream and meets the bad event; share 0: the worker does.
  for (const [share, who] of [[1, 'main thread'], [0, 'worker']] as const) {
    const e = await rebuildFiles(db, store, READ_MODEL_PROJECTIONS, { share, catalog: PROJECTIONS_MODULE }).catch((e: unknown) => e)
    t.type(e, EventDecodeError, `${who}: the decode error comes back as itself`)
    t.equal((e as EventDecodeError).position, head + 1)
    t.same(dumpReadModels(db), before, `${who}: the live tables are untouched`)
    t.same(db.prepare(`SELECT name FROM main.sqlite_schema WHERE name LIKE '%__rb%'`).all(), [], `${who}: no fresh table left`)
  }
})

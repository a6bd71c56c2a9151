/**
 * The worker thread of a parallel rebuild (see parallel-rebuild.ts): audit.db's writer. It opens
 * its own connections to the event store and to audit.db, projects its share of the log, inserts
 * every audit row, and indexes, catches up and swaps audit.db.
 */
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'
import { AUDIT_WIDTH, auditLog, insertHead, insertTitle, type Title } from '../../projections/audit-log.js'
import { PROJECTIONS } from '../../projections/index.js'
import { SqliteEventStore, STREAM_BUCKETS } from '../eventstore/sqlite.js'
import { BatchedInsert } from './batched-insert.js'
import { openReadModelFile } from './files.js'
import type { FromWorker, ToWorker, WorkerInput } from './parallel-rebuild.js'
import { identity } from './projection.js'
import { abandonFresh, appliers, finishFresh, flushAll, KEEP_ROWS, startFresh } from './rebuild.js'
import { failureOf, Inbox, projectShare } from './share.js'

const port = parentPort as NonNullable<typeof parentPort>
const input = workerData as WorkerInput
const post = (m: FromWorker) => port.postMessage(m)
const inbox = new Inbox<ToWorker>()
port.on('message', (m: ToWorker) => (m.kind === 'abort' ? inbox.fail(new Error('aborted')) : inbox.put(m)))

const store = new SqliteEventStore(input.eventsFile)
const db = openReadModelFile(input.auditFile, 'audit')
// The worker's share of read-models.db's projections, in memory, sent to the main thread at the end.
const scratch = new Database(':memory:')
const local = PROJECTIONS.filter((p) => input.projections.includes(p.name))
for (const p of local) p.create(scratch, identity)
const scratchAppliers = appliers(scratch, local, identity)
const fresh = startFresh(db, [auditLog])

/** Both shares' rows of one window (flat, each in position order), inserted merged: appends to the table. */
const insertMerged = (insert: BatchedInsert, own: readonly unknown[], theirs: readonly unknown[]): void => {
  let i = 0
  let j = 0
  while (i < own.length || j < theirs.length) {
    if (i < own.length && (j >= theirs.length || (own[i] as number) < (theirs[j] as number))) {
      insert.add(own, i)
      i += AUDIT_WIDTH
    } else {
      insert.add(theirs, j)
      j += AUDIT_WIDTH
    }
  }
  insert.flush()
}

const run = async (): Promise<void> => {
  const insert = new BatchedInsert(db, insertHead(fresh.table), AUDIT_WIDTH)
  const titles = new Map<string, Title>()
  const project = projectShare(scratch, scratchAppliers, titles, KEEP_ROWS)
  const window = db.transaction(insertMerged)
  let events = 0
  for (let lo = 0; lo < input.upTo; lo += input.window) {
    const hi = Math.min(lo + input.window, input.upTo)
    const rows = store.readRawShare(lo, hi, input.from, STREAM_BUCKETS - 1)
    const own = project(rows)
    events += rows.length
    const flat = (await inbox.next('rows')).flat
    window(insert, own, flat)
    post({ kind: 'ack' })
  }
  const theirs = (await inbox.next('titles')).flat
  const setTitle = insertTitle(db, fresh.table)
  db.transaction(() => {
    for (const [uid, [title, detail]] of titles) setTitle.run(uid, title, detail)
    for (let i = 0; i < theirs.length; i += 3) setTitle.run(theirs[i], theirs[i + 1], theirs[i + 2])
  })()
  flushAll(scratch, scratchAppliers)
  post({
    kind: 'tokens',
    events,
    tables: local.flatMap((p) => p.tables.map((table) => ({ table, rows: scratch.prepare(`SELECT * FROM ${table}`).raw().all() as unknown[][] }))),
  })
  const done = await finishFresh(db, store, [auditLog], fresh, input.upTo, input.pageSize ? { pageSize: input.pageSize } : {})
  post({ kind: 'done', ...done })
}

try {
  await run()
} catch (e) {
  abandonFresh(db, [auditLog], fresh)
  post({ kind: 'failed', failure: failureOf(e) })
} finally {
  db.close()
  scratch.close()
  await store.close()
  port.close()
}

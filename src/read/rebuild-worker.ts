/**
 * The worker thread of a parallel rebuild (see parallel-rebuild.ts). It opens its own connection
 * to the event store, projects its share of the log into an in-memory database and sends the
 * rows to the main thread, which writes read-models.db.
 */
import { dirname } from 'node:path'
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'
import { openEventStore } from '../eventstore/open.js'
import { STREAM_BUCKETS, type EmbeddedLog } from '../eventstore/port.js'
import type { FromWorker, ToWorker, WorkerInput } from './parallel-rebuild.js'
import type { Projection } from './projection.js'
import { appliers, flushAll, KEEP_ROWS } from './replay.js'
import { createTables, identity } from './schema.js'
import { failureOf, projectShare } from './share.js'

const port = parentPort as NonNullable<typeof parentPort>
const input = workerData as WorkerInput
const post = (m: FromWorker) => port.postMessage(m)
let aborted = false
port.on('message', (m: ToWorker) => {
  if (m.kind === 'abort') aborted = true
})

const store = await openEventStore(`sqlite:${input.eventsFile}`, dirname(input.eventsFile))
const log = store.embedded as EmbeddedLog
const scratch = new Database(':memory:')

const run = async (): Promise<void> => {
  const { PROJECTIONS } = (await import(input.catalog)) as { PROJECTIONS: readonly Projection[] }
  const local = PROJECTIONS.filter((p) => input.projections.includes(p.name))
  for (const p of local) createTables(scratch, p, identity)
  const a = appliers(scratch, local, identity)
  const project = projectShare(scratch, a, KEEP_ROWS)
  let events = 0
  for (let lo = 0; lo < input.upTo && !aborted; lo += input.window) {
    const rows = log.readRawShare(lo, Math.min(lo + input.window, input.upTo), input.from, STREAM_BUCKETS - 1)
    project(rows)
    events += rows.length
    // A turn of the event loop between windows, so an abort is seen.
    await new Promise((resolve) => setImmediate(resolve))
  }
  flushAll(scratch, a)
  post({
    kind: 'tokens',
    events,
    tables: local.flatMap((p) => p.tables.map(({ name: table }) => ({ table, rows: scratch.prepare(`SELECT * FROM ${table}`).raw().all() as unknown[][] }))),
  })
}

try {
  await run()
} catch (e) {
  post({ kind: 'failed', failure: failureOf(e) })
} finally {
  scratch.close()
  await store.close()
  port.close()
}

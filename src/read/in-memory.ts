import { setImmediate as nextTurn } from 'node:timers/promises'
import Database from 'better-sqlite3'
import type { Recorded } from '../domain/events.js'
import { STREAM_PAGE } from '../eventstore/pages.js'
import { applierOf } from './applier.js'
import type { Projection } from './projection.js'
import { createTables, identity } from './schema.js'

/**
 * `projections` after `records` (one stack's stream up to some event), in a throw-away in-memory
 * database that the caller closes. A page of events per transaction, with a turn of the event
 * loop between pages: a long stream holds no other request for long.
 */
export const projectInMemory = async (projections: readonly Projection[], records: readonly Recorded[]): Promise<Database.Database> => {
  const db = new Database(':memory:')
  const appliers = projections.map((p) => {
    createTables(db, p, identity)
    return { p, applier: applierOf(db, p, identity) }
  })
  const apply = db.transaction((page: readonly Recorded[]) => {
    for (const r of page) for (const { p, applier } of appliers) if (p.handles.has(r.event.type)) applier.apply(r)
    for (const { applier } of appliers) applier.flush()
  })
  try {
    for (let at = 0; at < records.length; at += STREAM_PAGE) {
      if (at > 0) await nextTurn()
      apply(records.slice(at, at + STREAM_PAGE))
    }
  } catch (e) {
    db.close()
    throw e
  }
  return db
}

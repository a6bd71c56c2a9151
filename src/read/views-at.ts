import { setImmediate as nextTurn } from 'node:timers/promises'
import Database from 'better-sqlite3'
import { PROJECTIONS } from '../../projections/index.js'
import type { Recorded } from '../domain/events.js'
import { STREAM_PAGE } from '../eventstore/pages.js'
import { identity } from './projection.js'
import { createQueries, type Queries } from './queries.js'

/**
 * The read models as they were after `records` (one stack's stream up to some event), in a
 * throw-away in-memory database, through the same projections and queries as the live ones.
 * An idempotent replay answers from here, so it gives the first answer even after the token
 * changed or was revoked since, and on an instance whose read models have not caught up yet.
 * A page of events per transaction, with a turn of the event loop between pages: a long stream
 * holds no other request for long.
 */
export const viewsAt = async (records: readonly Recorded[]): Promise<{ readonly queries: Queries; close(): void }> => {
  const db = new Database(':memory:')
  const appliers = PROJECTIONS.map((p) => {
    p.create(db, identity)
    return { p, applier: p.prepare(db, identity) }
  })
  const apply = db.transaction((page: readonly Recorded[]) => {
    for (const r of page)
      for (const { p, applier } of appliers) if (p.handles.has(r.event.type)) applier.apply(r)
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
  return { queries: createQueries(db), close: () => db.close() }
}

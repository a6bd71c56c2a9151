import Database from 'better-sqlite3'
import { PROJECTIONS } from '../../projections/index.js'
import type { Recorded } from '../domain/events.js'
import { identity } from './projection.js'
import { createQueries, type Queries } from './queries.js'

/**
 * The read models as they were after `records` (one stack's stream up to some event), in a
 * throw-away in-memory database, through the same projections and queries as the live ones.
 * An idempotent replay answers from here, so it gives the first answer even after the token
 * changed or was revoked since, and on an instance whose read models have not caught up yet.
 */
export const viewsAt = (records: readonly Recorded[]): { readonly queries: Queries; close(): void } => {
  const db = new Database(':memory:')
  const appliers = PROJECTIONS.map((p) => {
    p.create(db, identity)
    return { p, applier: p.prepare(db, identity) }
  })
  db.transaction(() => {
    for (const r of records)
      for (const { p, applier } of appliers) if (p.handles.has(r.event.type)) applier.apply(r)
    for (const { applier } of appliers) applier.flush()
  })()
  return { queries: createQueries(db), close: () => db.close() }
}

import type { Recorded } from '../src/domain/events.js'
import { projectInMemory } from '../src/read/in-memory.js'
import { PROJECTIONS } from './index.js'
import { createQueries, type Queries } from './queries.js'

/**
 * The read models as they were after `records` (one stack's stream up to some event), in a
 * throw-away in-memory database, through the same projections and queries as the live ones.
 * An idempotent replay answers from here, so it gives the first answer even after the token
 * changed or was revoked since, and on an instance whose read models have not caught up yet.
 */
export const viewsAt = async (records: readonly Recorded[]): Promise<{ readonly queries: Queries; close(): void }> => {
  const db = await projectInMemory(PROJECTIONS, records)
  // As of the first run's last event: a rotation grace shows as that answer showed it.
  const at = records.at(-1)?.metadata.occurred_at
  return { queries: createQueries(db, undefined, at === undefined ? undefined : () => new Date(at)), close: () => db.close() }
}

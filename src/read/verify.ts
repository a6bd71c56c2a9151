import type Database from 'better-sqlite3'
import type { EventStore } from '../eventstore/port.js'
import type { Projection } from './projection.js'
import { CHECKPOINTS_TABLE, ensureCheckpointTable, identity, tableExists } from './schema.js'
import { ASIDE } from './fresh.js'
import { appliers, buildTables, createTables, dropAll, type BuildOptions } from './replay.js'

type Row = Record<string, unknown>

export type Difference =
  | { readonly kind: 'missing'; readonly table: string; readonly key: Row; readonly rebuilt: Row }
  | { readonly kind: 'extra'; readonly table: string; readonly key: Row; readonly live: Row }
  | {
      readonly kind: 'changed'
      readonly table: string
      readonly key: Row
      readonly columns: ReadonlyArray<{ column: string; live: unknown; rebuilt: unknown }>
    }
  | { readonly kind: 'schema'; readonly table: string; readonly message: string }

export interface VerifyResult {
  readonly differences: Difference[]
  readonly events: number
  /** Each projection's checkpoint that the comparison was made at. */
  readonly positions: ReadonlyMap<string, number>
}

/** Row-by-row differences between a live table and its rebuilt copy, keyed by the primary key. */
export const diffTable = (db: Database.Database, table: string, aside: string): Difference[] => {
  if (!tableExists(db, table)) return [{ kind: 'schema', table, message: 'the live table does not exist' }]
  const columns = db.pragma(`table_info(${aside})`) as Array<{ name: string; pk: number }>
  const liveColumns = (db.pragma(`table_info(${table})`) as Array<{ name: string }>).map((c) => c.name)
  if (liveColumns.join(',') !== columns.map((c) => c.name).join(','))
    return [{ kind: 'schema', table, message: `columns differ: live (${liveColumns.join(', ')}), rebuilt (${columns.map((c) => c.name).join(', ')})` }]
  const pk = columns.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name)
  const where = pk.map((c) => `"${c}" = @${c}`).join(' AND ')
  const inLive = db.prepare<Row, Row>(`SELECT * FROM ${table} WHERE ${where}`)
  const inAside = db.prepare<Row, Row>(`SELECT * FROM ${aside} WHERE ${where}`)
  const keyOf = (r: Row): Row => Object.fromEntries(pk.map((c) => [c, r[c]]))
  const out: Difference[] = []
  for (const rebuilt of db.prepare<[], Row>(`SELECT * FROM ${aside} EXCEPT SELECT * FROM ${table}`).iterate()) {
    const key = keyOf(rebuilt)
    const live = inLive.get(key)
    if (!live) out.push({ kind: 'missing', table, key, rebuilt })
    else
      out.push({
        kind: 'changed',
        table,
        key,
        columns: columns.filter((c) => live[c.name] !== rebuilt[c.name]).map((c) => ({ column: c.name, live: live[c.name], rebuilt: rebuilt[c.name] })),
      })
  }
  for (const live of db.prepare<[], Row>(`SELECT * FROM ${table} EXCEPT SELECT * FROM ${aside}`).iterate()) {
    const key = keyOf(live)
    if (!inAside.get(key)) out.push({ kind: 'extra', table, key, live })
  }
  return out
}

/**
 * Rebuilds `projections` aside (`<table>__verify`) up to each live checkpoint and compares
 * every table row by row, inside one read transaction so that a live projector moving on does
 * not show up as a difference; the aside tables are dropped afterwards.
 */
export const verify = async (
  db: Database.Database,
  store: EventStore,
  projections: readonly Projection[],
  options: BuildOptions = {},
): Promise<VerifyResult> => {
  ensureCheckpointTable(db)
  const checkpoint = db.prepare<[string], { position: number }>(`SELECT position FROM ${CHECKPOINTS_TABLE} WHERE name = ?`)
  const positions = () => new Map(projections.map((p) => [p.name, checkpoint.get(p.name)?.position ?? 0]))
  createTables(db, projections, ASIDE)
  try {
    // One aside build per projection, since each has its own checkpoint; they are normally equal.
    const built = new Map(projections.map((p) => [p.name, { appliers: appliers(db, [p], ASIDE), position: 0 }]))
    let events = 0
    for (let attempt = 1; ; attempt += 1) {
      const targets = positions()
      for (const p of projections) {
        const b = built.get(p.name) as { appliers: ReturnType<typeof appliers>; position: number }
        const target = targets.get(p.name) as number
        if (b.position >= target) continue
        const r = await buildTables(db, store, b.appliers, { after: b.position, upTo: target }, options)
        events = Math.max(events, r.position)
        b.position = target
      }
      const compared = db.transaction(() => {
        const now = positions()
        if (projections.some((p) => now.get(p.name) !== built.get(p.name)?.position)) return undefined
        return projections.flatMap((p) => p.tables.flatMap(({ name: t }) => diffTable(db, identity(t), ASIDE(t))))
      })()
      if (compared) return { differences: compared, events, positions: targets }
      if (attempt >= 10) throw new Error('the live read models kept moving during the comparison; try again')
    }
  } finally {
    dropAll(db, projections, ASIDE)
  }
}

import { randomBytes } from 'node:crypto'
import { closeSync, existsSync, fsyncSync, openSync } from 'node:fs'
import type Database from 'better-sqlite3'
import type { EventStore } from '../eventstore/port.js'
import { PAGE_SIZE, readRawPage } from './log.js'
import type { Projection } from './projection.js'
import { appliers, applyRaw, buildTables, createTables, dropAll, flushAll, type Appliers, type BuildOptions } from './replay.js'
import { CHECKPOINTS_TABLE, ensureCheckpointTable, indexTables, tableExists, type TableName } from './schema.js'

/**
 * Physical names of a rebuild's fresh tables: tagged per rebuild, because a fresh table keeps its
 * indexes (and their names) when the swap renames it to the live name, so the next rebuild's
 * fresh indexes need names of their own. `--verify`'s aside tables are dropped after each use.
 */
export const freshTables = (tag: string): TableName => (t) => `${t}__rb${tag}`
const oldTables = (tag: string): TableName => (t) => `${t}__old${tag}`
export const ASIDE: TableName = (t) => `${t}__verify`

/**
 * A rebuild's connection settings while it loads its fresh tables: no sync (they are thrown away
 * if anything fails), a 128 MiB page cache, and index builds that sort in memory.
 */
export const BULK_LOAD = { synchronous: 'OFF', cache_size: -131_072, temp_store: 'MEMORY' } as const

const readCheckpoints = (db: Database.Database, projections: readonly Projection[]): Map<string, number> => {
  const get = db.prepare<[string], { position: number }>(`SELECT position FROM ${CHECKPOINTS_TABLE} WHERE name = ?`)
  return new Map(projections.map((p) => [p.name, get.get(p.name)?.position ?? 0]))
}

/** The live checkpoints: a rebuild's progress bar uses their maximum as its total. */
export const liveHead = (db: Database.Database, projections: readonly Projection[]): number => {
  ensureCheckpointTable(db)
  return Math.max(0, ...readCheckpoints(db, projections).values())
}

class BehindLive extends Error {}

/** Tables that an interrupted rebuild left behind (fresh ones never swapped in, old ones never dropped). */
const dropLeftovers = (db: Database.Database, projections: readonly Projection[]): void => {
  const leftovers = db.prepare<[string, string], string>(
    `SELECT name FROM sqlite_schema WHERE type = 'table' AND (name GLOB ? OR name GLOB ?)`,
  ).pluck()
  db.transaction(() => {
    for (const p of projections)
      for (const { name: t } of p.tables) for (const name of leftovers.all(`${t}__rb*`, `${t}__old*`)) db.exec(`DROP TABLE IF EXISTS "${name}"`)
  })()
}

/** A rebuild's fresh tables in one file, from `startFresh` until `finishFresh` or `abandonFresh`. */
export interface Fresh {
  readonly table: TableName
  readonly old: TableName
  readonly appliers: Appliers
  /** The connection's settings before BULK_LOAD, restored at the end. */
  readonly saved: Record<string, unknown>
}

/** Drops what an interrupted rebuild left, creates fresh tables (`<table>__rb<tag>`) and sets BULK_LOAD. */
export const startFresh = (db: Database.Database, projections: readonly Projection[]): Fresh => {
  ensureCheckpointTable(db)
  dropLeftovers(db, projections)
  const tag = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`
  const table = freshTables(tag)
  createTables(db, projections, table)
  const saved = Object.fromEntries(Object.keys(BULK_LOAD).map((name) => [name, db.pragma(name, { simple: true })]))
  for (const [name, value] of Object.entries(BULK_LOAD)) db.pragma(`${name} = ${value}`)
  return { table, old: oldTables(tag), appliers: appliers(db, projections, table), saved }
}

const restore = (db: Database.Database, fresh: Fresh): void => {
  for (const [name, value] of Object.entries(fresh.saved)) db.pragma(`${name} = ${value}`)
}

/** After a failure: the fresh tables go, the live ones were never touched. */
export const abandonFresh = (db: Database.Database, projections: readonly Projection[], fresh: Fresh): void => {
  for (const applier of fresh.appliers.all) applier.discard()
  dropAll(db, projections, fresh.table)
  restore(db, fresh)
}

/**
 * After the bulk load up to `position`: flush what the appliers kept, build the query indexes
 * once, catch up outside any lock to the store's head, then swap within one IMMEDIATE
 * transaction (catching up the last events inside it on the embedded store; otherwise checking
 * that the live checkpoints are not ahead, and retrying if they are) and drop the old tables.
 */
export const finishFresh = async (
  db: Database.Database,
  store: EventStore,
  projections: readonly Projection[],
  fresh: Fresh,
  position: number,
  options: BuildOptions = {},
): Promise<{ events: number; position: number; swapMs: number }> => {
  const pageSize = options.pageSize ?? PAGE_SIZE
  const { table, old } = fresh
  let events = 0
  flushAll(db, fresh.appliers)
  db.transaction(() => {
    for (const p of projections) indexTables(db, p, table)
  })()
  db.pragma(`synchronous = ${fresh.saved.synchronous}`) // the catch-up and the swap commit as usual
  // The bulk load wrote with synchronous=OFF, so its pages are still in the OS cache. The first
  // commit that syncs (SQLite syncs the WAL when it starts the log again) would write them all
  // to disk while holding the write lock: hundreds of ms at a million events. Write them now.
  flushFiles(db)
  const apply = applyRaw(db, fresh.appliers)
  const sqlite = store.embedded
  for (let attempt = 1; ; attempt += 1) {
    const caught = await buildTables(db, store, fresh.appliers, { after: position }, { ...options, keep: 0 })
    events += caught.events
    position = caught.position
    const started = performance.now()
    try {
      db.transaction(() => {
        if (sqlite) {
          for (let rows = readRawPage(sqlite, position, pageSize); rows.length > 0; rows = readRawPage(sqlite, position, pageSize)) {
            apply(rows)
            events += rows.length
            position = (rows[rows.length - 1] as { position: number }).position
          }
        } else if ([...readCheckpoints(db, projections).values()].some((cp) => cp > position)) {
          throw new BehindLive()
        }
        swapIn(db, projections, table, old, position)
      }).immediate()
    } catch (e) {
      if (e instanceof BehindLive && attempt < 10) continue
      if (e instanceof BehindLive) throw new Error('the live projector kept moving ahead of the rebuild; try again')
      throw e
    }
    const swapMs = performance.now() - started
    dropAll(db, projections, old)
    restore(db, fresh)
    return { events, position, swapMs }
  }
}

/** fsync of each file of the connection (and its WAL), outside any SQLite lock. */
const flushFiles = (db: Database.Database): void => {
  for (const { file } of db.pragma('database_list') as Array<{ file: string }>) {
    if (file === '') continue
    for (const path of [file, `${file}-wal`]) {
      if (!existsSync(path)) continue
      const fd = openSync(path, 'r')
      try {
        fsyncSync(fd)
      } finally {
        closeSync(fd)
      }
    }
  }
}

/** Inside the swap transaction: live tables are renamed aside, fresh ones take their names. */
const swapIn = (db: Database.Database, projections: readonly Projection[], fresh: TableName, old: TableName, position: number): void => {
  const save = db.prepare(`INSERT OR REPLACE INTO ${CHECKPOINTS_TABLE} (name, version, position) VALUES (?, ?, ?)`)
  for (const p of projections) {
    for (const { name: t } of p.tables) {
      if (tableExists(db, t)) db.exec(`ALTER TABLE ${t} RENAME TO ${old(t)}`)
      db.exec(`ALTER TABLE ${fresh(t)} RENAME TO ${t}`)
    }
    save.run(p.name, p.version, position)
  }
}

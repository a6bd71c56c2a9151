import { randomBytes } from 'node:crypto'
import { closeSync, existsSync, fsyncSync, openSync } from 'node:fs'
import { setImmediate as nextTick } from 'node:timers/promises'
import type Database from 'better-sqlite3'
import * as E from 'fp-ts/lib/Either.js'
import type { EventType, Recorded } from '../domain/events.js'
import type { EventStore, RawEventRow } from '../eventstore/port.js'
import { applierOf, type Applier } from './applier.js'
import { PAGE_SIZE, readLog, readRawPage, decodeRaw, type LogItem } from './log.js'
import type { Projection } from './projection.js'
import { CHECKPOINTS_TABLE, createTables as create, dropTables, ensureCheckpointTable, indexTables, tableExists, type TableName } from './schema.js'

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

export interface BuildOptions {
  /** Events read and applied per transaction. */
  readonly pageSize?: number
  /** Rows each projection may keep in memory across transactions (a bulk load's fresh tables only). */
  readonly keep?: number
  /** Called after each page with the events applied so far and the last position. */
  readonly onProgress?: (events: number, position: number) => void
}

export interface RebuildResult {
  readonly projections: readonly string[]
  readonly events: number
  readonly position: number
  /** How long the swap held the write lock, in ms. */
  readonly swapMs: number
}

type Apply = (r: Recorded) => void

/** Every projection's Applier, and their apply functions by event type (one map lookup per event). */
export interface Appliers {
  readonly byType: Map<EventType, Apply[]>
  readonly all: readonly Applier[]
}

export const appliers = (db: Database.Database, projections: readonly Projection[], table: TableName): Appliers => {
  const byType = new Map<EventType, Apply[]>()
  const all: Applier[] = []
  for (const p of projections) {
    const applier = applierOf(db, p, table)
    all.push(applier)
    for (const type of p.handles) byType.set(type, [...(byType.get(type) ?? []), applier.apply])
  }
  return { byType, all }
}

export const orThrow = (item: LogItem): Recorded => {
  if (E.isLeft(item)) throw item.left
  return item.right
}

/**
 * One transaction over a batch: apply each item, then flush what the appliers kept (only what is
 * over `keep` rows, when a rebuild's fresh tables may keep rows across batches); forget it all if
 * anything fails.
 */
const batch = <T>(db: Database.Database, a: Appliers, toRecorded: (item: T) => Recorded, keep = 0): ((items: readonly T[]) => void) => {
  const tx = db.transaction((items: readonly T[]) => {
    for (const item of items) {
      const r = toRecorded(item)
      const fns = a.byType.get(r.event.type)
      if (fns) for (const f of fns) f(r)
    }
    for (const applier of a.all) if (applier.held() > keep) applier.flush()
  })
  return (items) => {
    try {
      tx(items)
    } catch (e) {
      for (const applier of a.all) applier.discard()
      throw e
    }
  }
}

/** Applies a page in one transaction; a bad event throws its EventDecodeError and nothing of the page is kept. */
export const applyPage = (db: Database.Database, a: Appliers, keep = 0): ((items: readonly LogItem[]) => void) => batch(db, a, orThrow, keep)

/** Like applyPage, for raw rows of the embedded store: decode and apply one row at a time. */
export const applyRaw = (db: Database.Database, a: Appliers, keep = 0): ((rows: readonly RawEventRow[]) => void) =>
  batch(db, a, (row: RawEventRow) => orThrow(decodeRaw(row)), keep)

/**
 * Rows a bulk load keeps in memory per projection between its transactions: a token changed in
 * many pages is read and written once, not once per page.
 */
export const KEEP_ROWS = 200_000

/** Writes every row the appliers kept, in one transaction. */
export const flushAll = (db: Database.Database, a: Appliers): void => {
  db.transaction(() => {
    for (const applier of a.all) applier.flush()
  })()
}

export const createTables = (db: Database.Database, projections: readonly Projection[], table: TableName): void => {
  db.transaction(() => {
    for (const p of projections) {
      dropTables(db, p, table)
      create(db, p, table)
    }
  })()
}

export const dropAll = (db: Database.Database, projections: readonly Projection[], table: TableName): void => {
  db.transaction(() => {
    for (const p of projections) dropTables(db, p, table)
  })()
}

/**
 * Replays the log from `after` into tables named by `table`, in large pages, one transaction per
 * page; yields to the event loop between pages so an in-process server keeps answering. On the
 * embedded store, rows are decoded one by one inside the transaction, so each decoded event is
 * garbage right after it is applied (cheap for the young-generation collector).
 */
export const buildTables = async (
  db: Database.Database,
  store: EventStore,
  a: Appliers,
  from: { after: number; upTo?: number },
  options: BuildOptions = {},
): Promise<{ events: number; position: number }> => {
  const pageSize = options.pageSize ?? PAGE_SIZE
  let events = 0
  let position = from.after
  if (store.embedded) {
    const apply = applyRaw(db, a, options.keep)
    for (;;) {
      const rows = readRawPage(store.embedded, position, pageSize, from.upTo)
      if (rows.length === 0) break
      apply(rows)
      events += rows.length
      position = (rows[rows.length - 1] as RawEventRow).position
      options.onProgress?.(events, position)
      await nextTick()
    }
    return { events, position }
  }
  const apply = applyPage(db, a, options.keep)
  for await (const page of readLog(store, { after: from.after, upTo: from.upTo, pageSize })) {
    apply(page)
    events += page.length
    const last = page[page.length - 1] as LogItem
    position = E.isRight(last) ? last.right.position : last.left.position
    options.onProgress?.(events, position)
    await nextTick()
  }
  return { events, position }
}

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

/**
 * Rebuilds `projections` (all in the `main` file of `db`) from position 0 into fresh tables, then
 * swaps them in atomically while other connections (a running service's projector and queries)
 * keep working on the live ones:
 *
 * 1. build `<table>__rb<tag>` from the log, page by page (large transactions, synchronous=OFF,
 *    rows kept across pages: these tables are thrown away if anything fails);
 * 2. finishFresh: their query indexes, once; the catch-up; the swap (a few milliseconds of write
 *    lock, each checkpoint set to the last position applied); the old tables dropped.
 *
 * A live projector then goes on from its own in-memory checkpoint, which is at or below the new
 * one: it re-applies a few events, which is harmless because every apply is idempotent. Its
 * prepared statements re-prepare against the new tables (SQLite does that after a schema change).
 */
export const rebuild = async (
  db: Database.Database,
  store: EventStore,
  projections: readonly Projection[],
  options: BuildOptions = {},
): Promise<RebuildResult> => {
  const fresh = startFresh(db, projections)
  try {
    const built = await buildTables(db, store, fresh.appliers, { after: 0 }, { keep: KEEP_ROWS, ...options })
    const done = await finishFresh(db, store, projections, fresh, built.position, options)
    return { projections: projections.map((p) => p.name), events: built.events + done.events, position: done.position, swapMs: done.swapMs }
  } catch (e) {
    abandonFresh(db, projections, fresh)
    throw e
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

import { setImmediate as nextTick } from 'node:timers/promises'
import type Database from 'better-sqlite3'
import * as E from 'fp-ts/lib/Either.js'
import type { EventType, Recorded } from '../domain/events.js'
import type { EventStore, RawEventRow } from '../eventstore/port.js'
import { applierOf, type Applier } from './applier.js'
import { PAGE_SIZE, readLog, readRawPage, decodeRaw, type LogItem } from './log.js'
import type { Projection } from './projection.js'
import { createTables as create, dropTables, type TableName } from './schema.js'

export interface BuildOptions {
  /** Events read and applied per transaction. */
  readonly pageSize?: number
  /** Rows each projection may keep in memory across transactions (a bulk load's fresh tables only). */
  readonly keep?: number
  /** Called after each page with the events applied so far and the last position. */
  readonly onProgress?: (events: number, position: number) => void
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


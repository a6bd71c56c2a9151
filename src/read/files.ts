import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { Projection, ReadModelFile } from './projection.js'
import { CHECKPOINTS_TABLE, identity, type TableName } from './schema.js'

/**
 * The read models' SQLite files in DATA_DIR. Beside EventStoreDB the audit log (about one row per
 * event) has a file of its own, with a writer of its own; on the embedded store the audit log is
 * the store's own rows and audit.db is not opened. Each file holds the checkpoints of its own
 * projections, so a checkpoint still commits in the same transaction as its rows.
 */
export const READ_MODEL_FILES: Record<ReadModelFile, string> = { 'read-models': 'read-models.db', audit: 'audit.db' }
export type { ReadModelFile }

/** The schema name under which the service's connection attaches each file. */
const SCHEMAS: Record<ReadModelFile, string> = { 'read-models': 'main', audit: 'audit' }

/** audit.db is written in large appends and read in long scans: bigger pages (only set when the file is created). */
const PAGE_SIZES: Partial<Record<ReadModelFile, number>> = { audit: 16_384 }

const settings = (db: Database.Database, schema: string, file: ReadModelFile): void => {
  const size = PAGE_SIZES[file]
  if (size) db.pragma(`${schema}.page_size = ${size}`)
  db.pragma(`${schema}.journal_mode = WAL`)
  db.pragma(`${schema}.synchronous = NORMAL`)
}

/** A connection of its own to one read-model file (a writer: a rebuild, or its worker thread). */
export const openReadModelFile = (path: string, file: ReadModelFile): Database.Database => {
  const db = new Database(path)
  settings(db, 'main', file)
  db.pragma('busy_timeout = 5000')
  return db
}

/** The file that `schema` of this connection is, if it is attached and on disk. */
export const attachedFile = (db: Database.Database, schema: string): string | undefined => {
  const row = (db.pragma('database_list') as Array<{ name: string; file: string }>).find((d) => d.name === schema)
  return row && row.file !== '' ? row.file : undefined
}

/**
 * Where a projection's tables are on a service connection: its file's schema when that file is
 * attached, otherwise `main` (an in-memory database holds every read model in one file).
 */
export const schemaOf = (db: Database.Database, p: Projection): string => {
  const schema = SCHEMAS[p.file]
  if (schema === 'main') return schema
  const attached = (db.pragma('database_list') as Array<{ name: string }>).some((d) => d.name === schema)
  return attached ? schema : 'main'
}

export const inSchema = (schema: string): TableName => (schema === 'main' ? identity : (t) => `${schema}.${t}`)

/** `projections` by the file they live in, in their order. */
export const byFile = (projections: readonly Projection[]): Map<ReadModelFile, Projection[]> => {
  const out = new Map<ReadModelFile, Projection[]>()
  for (const p of projections) out.set(p.file, [...(out.get(p.file) ?? []), p])
  return out
}

/**
 * Before audit.db, the audit log's tables and checkpoint were in read-models.db; main is searched
 * first for an unqualified name, so they would hide the attached ones. They are dropped with any
 * tables a rebuild left beside them, and with their checkpoint: the projection starts from 0 in
 * its own file at start-up, as after a version change.
 */
const dropMoved = (db: Database.Database, projections: readonly Projection[]): void => {
  const moved = projections.filter((p) => SCHEMAS[p.file] !== 'main')
  const tables = db.prepare<[], string>(`SELECT name FROM main.sqlite_schema WHERE type = 'table'`).pluck().all()
  const stale = tables.filter((name) => moved.some((p) => p.tables.some(({ name: t }) => name === t || name.startsWith(`${t}__rb`) || name.startsWith(`${t}__old`))))
  if (stale.length === 0) return
  db.transaction(() => {
    for (const name of stale) db.exec(`DROP TABLE main."${name}"`)
    if (tables.includes(CHECKPOINTS_TABLE)) {
      const forget = db.prepare(`DELETE FROM main.${CHECKPOINTS_TABLE} WHERE name = ?`)
      for (const p of moved) forget.run(p.name)
    }
  })()
}

/**
 * The service's connection to its read models: read-models.db, with audit.db attached as `audit`
 * when the audit-log projection is one of `projections` (not on the embedded store, whose own rows
 * are the audit log). Queries name tables without a schema; SQLite finds each in the file that has it.
 */
export const openReadModels = (dataDir: string, projections: readonly Projection[]): Database.Database => {
  mkdirSync(dataDir, { recursive: true })
  const db = new Database(join(dataDir, READ_MODEL_FILES['read-models']))
  settings(db, 'main', 'read-models')
  db.pragma('busy_timeout = 5000')
  if (projections.some((p) => p.file === 'audit')) {
    db.prepare(`ATTACH DATABASE ? AS ${SCHEMAS.audit}`).run(join(dataDir, READ_MODEL_FILES.audit))
    settings(db, SCHEMAS.audit, 'audit')
  }
  dropMoved(db, projections)
  return db
}

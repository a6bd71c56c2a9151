import type Database from 'better-sqlite3'
import type { Projection, Table } from './projection.js'

/** Maps a projection's logical table name to the physical one (live, or a rebuild's fresh copy). */
export type TableName = (logical: string) => string

export const identity: TableName = (logical) => logical

/** `CREATE INDEX schema.name ON table`: SQLite takes the schema on the index's name only. */
export const unqualified = (table: string): string => table.slice(table.indexOf('.') + 1)

/** Each read-model file's checkpoints, one row per projection in that file. */
export const CHECKPOINTS_TABLE = 'projection_checkpoints'

export const ensureCheckpointTable = (db: Database.Database, schema = 'main'): void => {
  db.exec(`CREATE TABLE IF NOT EXISTS ${schema}.${CHECKPOINTS_TABLE} (
    name TEXT PRIMARY KEY, version INTEGER NOT NULL, position INTEGER NOT NULL) WITHOUT ROWID`)
}

export const tableExists = (db: Database.Database, table: string): boolean =>
  db.prepare(`SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?`).get(table) !== undefined

const tableSql = (t: Table, name: string): string => {
  const columns = Object.entries(t.columns).map(([column, declaration]) => `${column} ${declaration}`)
  if (t.primaryKey) columns.push(`PRIMARY KEY (${t.primaryKey.join(', ')})`)
  return `CREATE TABLE IF NOT EXISTS ${name} (${columns.join(', ')})${t.withoutRowid === false ? '' : ' WITHOUT ROWID'}`
}

const indexesSql = (t: Table, name: string, forKey: boolean): string[] =>
  (t.indexes ?? [])
    .filter((i) => (i.forKey ?? false) === forKey)
    .map((i) => `CREATE ${i.unique ? 'UNIQUE ' : ''}INDEX IF NOT EXISTS ${name}_${i.name} ON ${unqualified(name)} (${i.on})`)

/** Creates `p`'s tables and the indexes their keys need (IF NOT EXISTS). */
export const createTables = (db: Database.Database, p: Projection, table: TableName): void => {
  for (const t of p.tables) {
    const name = table(t.name)
    db.exec(tableSql(t, name))
    for (const sql of indexesSql(t, name, true)) db.exec(sql)
  }
}

/** Creates the indexes that only the queries need (IF NOT EXISTS). */
export const indexTables = (db: Database.Database, p: Projection, table: TableName): void => {
  for (const t of p.tables) for (const sql of indexesSql(t, table(t.name), false)) db.exec(sql)
}

export const dropTables = (db: Database.Database, p: Projection, table: TableName = identity): void => {
  for (const t of p.tables) db.exec(`DROP TABLE IF EXISTS ${table(t.name)}`)
}

/** The logical names of `p`'s tables. */
export const tableNames = (p: Projection): string[] => p.tables.map((t) => t.name)

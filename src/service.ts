import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { Registry } from 'prom-client'
import { PROJECTIONS } from '../projections/index.js'
import type { Config } from './config.js'
import { openEventStore } from './eventstore/open.js'
import type { EventStore } from './eventstore/port.js'
import { Projector } from './read/projector.js'

/** Everything a running instance is made of; passed to buildApp, never held in module state. */
export interface ServiceDeps {
  readonly config: Config
  readonly store: EventStore
  readonly readDb: Database.Database
  readonly projector: Projector
  readonly clock: () => Date
  readonly randomBytes: (n: number) => Buffer
  readonly metrics: Registry
}

export interface Service extends ServiceDeps {
  close(): Promise<void>
}

export const openReadModels = (dataDir: string): Database.Database => {
  mkdirSync(dataDir, { recursive: true })
  const db = new Database(join(dataDir, 'read-models.db'))
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.pragma('busy_timeout = 5000')
  return db
}

export interface ServiceOverrides {
  readonly store?: EventStore
  readonly clock?: () => Date
  readonly randomBytes?: (n: number) => Buffer
  readonly onProjectionFailure?: (e: unknown) => void
}

/** Opens the event store and read models and starts projecting. */
export const openService = async (config: Config, o: ServiceOverrides = {}): Promise<Service> => {
  const store = o.store ?? (await openEventStore(config.eventStoreUrl, config.dataDir))
  const readDb = openReadModels(config.dataDir)
  const projector = new Projector(readDb, store, PROJECTIONS, o.onProjectionFailure)
  projector.start()
  return {
    config,
    store,
    readDb,
    projector,
    clock: o.clock ?? (() => new Date()),
    randomBytes: o.randomBytes ?? randomBytes,
    metrics: new Registry(),
    async close() {
      await projector.stop()
      await store.close()
      readDb.close()
    },
  }
}

import { join } from 'node:path'
import { EsdbEventStore } from '../../src/eventstore/esdb.js'
import type { EventStore } from '../../src/eventstore/port.js'
import { SqliteEventStore } from '../../src/eventstore/sqlite.js'
import { startEsdbDouble } from './esdb-double.js'

/**
 * Which event store a suite runs on: the embedded SQLite file by default, or, with
 * `TEST_EVENT_STORE=esdb-double`, the real EventStoreDB client talking to the in-process gRPC
 * test double (test/esdb/suites-on-double-*.test.ts rerun suites that way).
 */
export const onDouble = (): boolean => process.env.TEST_EVENT_STORE === 'esdb-double'

export interface StoreTarget {
  /** The EVENT_STORE_URL of this store. */
  readonly url: string
  /** A new connection to the same store, as another instance would open. */
  open(options?: { readonly pollIntervalMs?: number }): EventStore
}

export const storeTarget = async (t: { teardown(fn: () => unknown): void }, dir: string): Promise<StoreTarget> => {
  if (onDouble()) {
    const double = await startEsdbDouble()
    t.teardown(() => double.stop())
    return { url: double.url, open: () => EsdbEventStore.connect(double.url) }
  }
  const file = join(dir, 'events.db')
  return { url: `sqlite:${file}`, open: (options = {}) => new SqliteEventStore(file, options) }
}

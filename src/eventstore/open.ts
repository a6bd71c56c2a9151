import { join } from 'node:path'
import type { EventStore } from './port.js'
import { SqliteEventStore } from './sqlite.js'

/** `sqlite:<file>` (default `<dataDir>/events.db`) or `esdb://...` / `esdb+discover://...`. */
export const openEventStore = async (url: string | undefined, dataDir: string): Promise<EventStore> => {
  const target = url ?? `sqlite:${join(dataDir, 'events.db')}`
  if (target.startsWith('sqlite:')) return new SqliteEventStore(target.slice('sqlite:'.length))
  if (target.startsWith('esdb://') || target.startsWith('esdb+discover://')) {
    const { EsdbEventStore } = await import('./esdb.js')
    return EsdbEventStore.connect(target)
  }
  throw new Error(`EVENT_STORE_URL must start with sqlite: or esdb://, got "${target}"`)
}

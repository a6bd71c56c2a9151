import type { Config } from '../config.js'
import type { EventStore } from '../eventstore/port.js'

/**
 * Loads the configuration, opens its event store for `work` and closes it afterwards. The modules
 * are imported here, when a command runs, so that `--help` and the other commands load none of them.
 */
export const withConfiguredStore = async <T>(env: Record<string, string | undefined>, work: (store: EventStore, config: Config) => Promise<T>): Promise<T> => {
  const [{ loadConfig }, { openEventStore }] = await Promise.all([import('../config.js'), import('../eventstore/open.js')])
  const config = loadConfig(env)
  const store = await openEventStore(config.eventStoreUrl, config.dataDir)
  try {
    return await work(store, config)
  } finally {
    await store.close()
  }
}

import type { EventStore } from './port.js'

/** Placeholder until the EventStoreDB adapter lands (issue 4); selecting esdb:// fails clearly. */
export const EsdbEventStore = {
  connect(_connectionString: string): EventStore {
    throw new Error('The EventStoreDB adapter is not available in this build')
  },
}

/**
 * The contract suite against a real EventStoreDB, when one is given in ESDB_URL. The suite writes
 * only to fresh random `stack-blt...` streams, so a server holding other data passes too.
 *
 *   docker compose up -d eventstore
 *   ESDB_URL='esdb://127.0.0.1:2113?tls=false' npm test
 */
import t from 'tap'
import { EsdbEventStore } from '../../src/eventstore/esdb.js'
import { eventStoreContract } from '../support/event-store-contract.js'

const url = process.env.ESDB_URL

if (url === undefined || url === '') {
  const how = "docker compose up -d eventstore, then ESDB_URL='esdb://127.0.0.1:2113?tls=false' npm test"
  t.comment(`ESDB_URL is not set: the contract suite against a real EventStoreDB is skipped. To run it: ${how}`)
  t.test('EsdbEventStore on a real EventStoreDB', { skip: `ESDB_URL is not set (${how})` }, () => undefined)
} else {
  t.comment(`Running the event-store contract against ${url}`)
  await eventStoreContract(t, `EsdbEventStore on ${url}`, async () => ({
    store: EsdbEventStore.connect(url, { resubscribeInitialDelayMs: 50, resubscribeMaxDelayMs: 1000 }),
  }))
}

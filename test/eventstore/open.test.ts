import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { EsdbEventStore } from '../../src/eventstore/esdb.js'
import { openEventStore } from '../../src/eventstore/open.js'
import { SqliteEventStore } from '../../src/eventstore/sqlite.js'
import { startEsdbDouble } from '../support/esdb-double.js'

t.test('EVENT_STORE_URL selects the adapter', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mt-open-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const byDefault = await openEventStore(undefined, dir)
  t.ok(byDefault instanceof SqliteEventStore, 'sqlite in DATA_DIR by default')
  await byDefault.close()
  const explicit = await openEventStore(`sqlite:${join(dir, 'other.db')}`, dir)
  t.ok(explicit instanceof SqliteEventStore)
  await explicit.close()

  const double = await startEsdbDouble()
  t.teardown(() => double.stop())
  const esdb = await openEventStore(double.url, dir)
  t.ok(esdb instanceof EsdbEventStore, 'esdb:// is EventStoreDB')
  await esdb.close()

  await t.rejects(openEventStore('postgres://x', dir), /EVENT_STORE_URL must start with sqlite: or esdb:\/\//)
})

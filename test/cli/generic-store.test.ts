import { join } from 'node:path'
import t from 'tap'
import { PROJECTIONS } from '../../projections/index.js'
import { audit } from '../../src/cli/audit-replay.js'
import type { Io } from '../../src/cli/io.js'
import type { EventStore } from '../../src/eventstore/port.js'
import { SqliteEventStore } from '../../src/eventstore/sqlite.js'
import { Projector } from '../../src/read/projector.js'
import { rebuildFiles, verifyFiles } from '../../src/read/rebuild-files.js'
import { openReadModels } from '../../src/service.js'
import { cli, knownHistory } from './fixtures/history.js'

/** The SQLite store seen only through the port, as EventStoreDB would be: the generic read path. */
const portOnly = (s: EventStore, failAfter = Number.POSITIVE_INFINITY): EventStore => ({
  readStream: (stream, options) => s.readStream(stream, options),
  append: (stream, events, expected) => s.append(stream, events, expected),
  async *readAll(options) {
    let n = 0
    for await (const e of s.readAll(options)) {
      if ((n += 1) > failAfter) throw new Error('connection reset')
      yield e
    }
  },
  subscribe: (options) => s.subscribe(options),
  close: () => s.close(),
})

const capture = () => {
  const io = { out: '', err: '' }
  const sink: Io = { out: (s) => (io.out += s), err: (s) => (io.err += s), env: {} }
  return { io, sink }
}

t.test('through the port only (the EventStoreDB path)', async (t) => {
  const dir = await knownHistory(t)
  const sqlite = new SqliteEventStore(join(dir, 'events.db'))
  t.teardown(() => sqlite.close())

  t.test('audit prints what the embedded fast path prints', async (t) => {
    const { io, sink } = capture()
    t.equal(await audit(portOnly(sqlite), { json: true, from: 2 }, sink), 0)
    t.equal(io.out, (await cli(dir, 'audit', '--json', '--from', '2')).out)
  })

  t.test('a store that fails mid-replay is reported with the last position read, exit 1', async (t) => {
    const { io, sink } = capture()
    t.equal(await audit(portOnly(sqlite, 3), { json: true }, sink), 1)
    t.equal(io.out.split('\n').filter(Boolean).length, 3, 'what was read is printed')
    t.equal(io.err, 'audit: reading the event store after position 3 failed: connection reset\n')
  })

  t.test('rebuild and verify give the read models of live projection', async (t) => {
    const db = openReadModels(dir)
    t.teardown(() => db.close())
    const events = []
    for await (const e of sqlite.readAll()) events.push(e)
    new Projector(db, sqlite, PROJECTIONS).apply(events)
    const dump = () => PROJECTIONS.flatMap((p) => p.tables.map((t) => t.name)).map((x) => db.prepare(`SELECT * FROM ${x} ORDER BY 1, 2`).all())
    const live = dump()
    const r = await rebuildFiles(db, portOnly(sqlite), PROJECTIONS, { pageSize: 3 })
    t.equal(r.position, events.length)
    t.same(dump(), live)
    t.same((await verifyFiles(db, portOnly(sqlite), PROJECTIONS, { pageSize: 3 })).differences, [])
    db.prepare(`UPDATE audit.projection_checkpoints SET position = 1000 WHERE name = 'audit-log'`).run()
    await t.rejects(rebuildFiles(db, portOnly(sqlite), PROJECTIONS), /live projector kept moving ahead/, 'a live checkpoint ahead of the store head never swaps')
  })
})

import { join } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import { READ_MODEL_PROJECTIONS, tokensByStack } from '../../projections/index.js'
import { testConfig } from '../../src/config.js'
import { mintAuthtoken } from '../../src/http/auth.js'
import { SqliteEventStore } from '../../src/eventstore/sqlite.js'
import { Projector } from '../../src/read/projector.js'
import { rebuildFiles } from '../../src/read/rebuild-files.js'
import { openApp, openReadModels } from '../../src/service.js'
import { allEvents, API_KEY, admin, cli, knownHistory, owner, projectedHistory, TOKEN_B } from './fixtures/history.js'

const TABLES = READ_MODEL_PROJECTIONS.flatMap((p) => p.tables.map((t) => t.name))

/** Every read-model table and the checkpoints, as plain rows in a stable order. */
const dump = (db: Database.Database) =>
  Object.fromEntries([...TABLES, 'projection_checkpoints'].map((table) => [table, db.prepare(`SELECT * FROM ${table} ORDER BY 1, 2`).all()]))

/** Tables and indexes; an index keeps the name its rebuild gave it (`<table>__rb<tag>_...`), shown without the tag. */
const schema = (db: Database.Database) =>
  db
    .prepare<[], { type: string; name: string; tbl_name: string }>(`SELECT type, name, tbl_name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'`)
    .all()
    .map((r) => ({ ...r, name: r.name.replace(/__rb[0-9a-z]+_/, '_') }))
    .sort((a, b) => a.name.localeCompare(b.name))


t.test('rebuild gives exactly the read models of live projection, under the usual names', async (t) => {
  const { dir, db, head } = await projectedHistory(t)
  const live = dump(db)
  const names = schema(db)
  const r = await cli(dir, 'rebuild')
  t.equal(r.code, 0, r.err)
  t.match(r.out, new RegExp(`^rebuilt token-by-hash, tokens-by-stack, stack-members, stack-policy from ${head} events up to position ${head} in`))
  t.same(dump(db), live)
  t.same(schema(db), names, 'same tables and indexes, nothing left aside')

  for (let i = 0; i < 2; i++) {
    const one = await cli(dir, 'rebuild', 'tokens-by-stack')
    t.equal(one.code, 0)
    t.match(one.out, /^rebuilt tokens-by-stack from/)
    t.same(dump(db), live)
    t.same(schema(db), names, 'rebuilt again: no index added twice, nothing left aside')
  }
})

t.test('a rebuild drops what an interrupted one left behind, and the projector does not add indexes again', async (t) => {
  const { dir, db } = await projectedHistory(t)
  const names = schema(db)
  db.exec('CREATE TABLE tokens__rbdead (x); CREATE TABLE stacks__olddead (x)')
  t.equal((await cli(dir, 'rebuild')).code, 0)
  t.same(schema(db), names)
  const store = new SqliteEventStore(join(dir, 'events.db'))
  new Projector(db, store, READ_MODEL_PROJECTIONS)
  await store.close()
  t.same(schema(db), names, 'a restart keeps the indexes the rebuild built')
})

t.test('rebuild of unknown projections is bad usage, listing the valid names', async (t) => {
  const r = await cli(await knownHistory(t), 'rebuild', 'tokens', 'audit-log', 'nope')
  t.equal(r.code, 2)
  t.match(r.err, /unknown projection "tokens", "nope"; valid names: token-by-hash, tokens-by-stack, stack-members, stack-policy, audit-log/)
})

t.test('verify: equal read models exit 0; a planted difference is reported row by row and exits 1', async (t) => {
  const { dir, db, head } = await projectedHistory(t)
  const ok = await cli(dir, 'rebuild', '--verify')
  t.equal(ok.code, 0, ok.err)
  t.equal(ok.out, `verify: token-by-hash, tokens-by-stack, stack-members, stack-policy match a rebuild from the log (position ${head})\n`)

  db.prepare(`UPDATE tokens SET name = 'hacked' WHERE uid = ?`).run(TOKEN_B)
  db.prepare(`DELETE FROM stack_members WHERE api_key = ? AND email = ?`).run(API_KEY, admin.email)
  db.prepare(`INSERT INTO stack_members VALUES ('ghost', 'boo@example.com', '[]', 'u', 'now')`).run()
  const r = await cli(dir, 'rebuild', '--verify')
  t.equal(r.code, 1)
  t.same(r.out.split('\n').filter(Boolean).sort(), [
    `stack_members: extra api_key="ghost" email="boo@example.com": in the live read model, not in the rebuild`,
    `stack_members: missing api_key="${API_KEY}" email="${admin.email}": in the rebuild, not in the live read model`,
    `tokens: changed uid="${TOKEN_B}": name live "hacked" != rebuilt "deploy job"`,
  ])
  t.match(r.err, /verify: 3 difference\(s\) in .*tokens.* against a rebuild up to position/)
  t.same(db.prepare(`SELECT name FROM sqlite_schema WHERE name LIKE '%__verify%'`).all(), [], 'aside tables dropped')

  const only = await cli(dir, 'rebuild', '--verify', 'token-by-hash')
  t.equal(only.code, 0, 'the other projections are not compared')

  db.exec('DROP TABLE stack_members')
  const missing = await cli(dir, 'rebuild', '--verify', 'stack-members')
  t.equal(missing.code, 1)
  t.match(missing.out, /stack_members: the live table does not exist/)
})

t.test('a corrupted event stops the rebuild with its position; nothing changes', async (t) => {
  const { dir, db, head } = await projectedHistory(t)
  const before = dump(db)
  const events = new Database(join(dir, 'events.db'))
  events.prepare(`INSERT INTO events (id, stream, revision, type, data, metadata, recorded_at) VALUES ('bad', 'stack-x', 0, 'TokenRevoked', '{', '{}', 'now')`).run()
  events.close()
  const r = await cli(dir, 'rebuild')
  t.equal(r.code, 1)
  t.match(r.err, new RegExp(`^rebuild: cannot decode event TokenRevoked at position ${head + 1} of stack-x: stored JSON is not valid.*nothing was changed`))
  t.same(dump(db), before)
  const v = await cli(dir, 'rebuild', '--verify')
  t.equal(v.code, 0, 'verify compares at the live checkpoint, which the bad event is beyond')
  db.prepare(`UPDATE projection_checkpoints SET position = ?`).run(head + 1)
  const v2 = await cli(dir, 'rebuild', '--verify')
  t.equal(v2.code, 1, 'once the live checkpoint is past it, verify fails on it')
  t.match(v2.err, new RegExp(`^verify: cannot decode event TokenRevoked at position ${head + 1}`))
  t.same(db.prepare(`SELECT name FROM sqlite_schema WHERE name LIKE '%__rebuild%' OR name LIKE '%__verify%'`).all(), [])
})

t.test('a projection whose version changed is rebuilt at start-up', async (t) => {
  const { dir, db, head } = await projectedHistory(t)
  const live = dump(db)
  db.prepare(`UPDATE tokens SET name = 'stale'`).run()
  const store = new SqliteEventStore(join(dir, 'events.db'))
  t.teardown(() => store.close())
  const bumped = { ...tokensByStack, version: tokensByStack.version + 1 }
  const projector = new Projector(db, store, READ_MODEL_PROJECTIONS.map((p) => (p === tokensByStack ? bumped : p)))
  t.same(db.prepare('SELECT COUNT(*) AS n FROM tokens').get(), { n: 0 }, 'its tables were dropped and recreated')
  t.same(db.prepare(`SELECT version, position FROM projection_checkpoints WHERE name = 'tokens-by-stack'`).get(), { version: bumped.version, position: 0 })
  t.same(db.prepare(`SELECT position FROM projection_checkpoints WHERE name = 'stack-members'`).get(), { position: head }, 'others keep theirs')
  projector.start()
  await projector.waitFor(head)
  await projector.stop()
  t.same(dump(db).tokens, live.tokens)
})

t.test('a rebuild while the server answers requests causes no failed request', async (t) => {
  const { dir, db } = await projectedHistory(t)
  db.close()
  // One user sends thousands of requests here: their per-minute limit is not what is tested.
  const config = testConfig({ dataDir: dir, jwtSecret: 'test-secret', logLevel: 'silent', managementRateLimit: 1_000_000 })
  const { service, app, close } = await openApp(config)
  t.teardown(close)
  const store = service.store as SqliteEventStore
  const head = (await allEvents(store)).length
  await service.projector.waitFor(head)
  const headers = { api_key: API_KEY, authtoken: mintAuthtoken('test-secret', { email: owner.email, sub: owner.uid }) }

  const side = openReadModels(dir, READ_MODEL_PROJECTIONS)
  t.teardown(() => side.close())
  let done = false
  let pages = 0
  const rebuilding = rebuildFiles(side, store, READ_MODEL_PROJECTIONS, { pageSize: 10, onProgress: () => (pages += 1) }).finally(() => (done = true))
  const statuses = new Map<number, number>()
  const created: string[] = []
  for (let i = 0; i < 5_000 && !done; i += 1) {
    const r =
      i % 10 === 5 && created.length < 10
        ? await app.inject({
            method: 'POST',
            url: '/v3/stacks/management_tokens',
            headers,
            payload: { token: { name: `during-${i}`, scope: [{ module: 'entry', acl: { read: true, write: false } }] } },
          })
        : await app.inject({ method: 'GET', url: i % 2 ? '/v3/stacks/management_tokens' : '/readyz', headers })
    statuses.set(r.statusCode, (statuses.get(r.statusCode) ?? 0) + 1)
    if (r.statusCode === 201) created.push(r.json().token.uid)
  }
  const result = await rebuilding
  t.ok(pages > 10, `the rebuild yielded between its ${pages} pages`)
  t.same([...statuses.keys()].filter((s) => s !== 200 && s !== 201), [], `statuses: ${JSON.stringify([...statuses])}`)
  t.ok(created.length > 0, `${created.length} tokens created during the rebuild`)

  const after = await app.inject({ method: 'GET', url: '/v3/stacks/management_tokens', headers })
  t.equal(after.statusCode, 200, 'the server answers from the swapped-in tables')
  const listed = (after.json().tokens as Array<{ uid: string }>).map((x) => x.uid)
  for (const uid of created) t.ok(listed.includes(uid), `token created during the rebuild is listed: ${uid}`)
  const late = await app.inject({ method: 'POST', url: '/v3/stacks/management_tokens', headers, payload: { token: { name: 'after', scope: [{ module: 'entry', acl: { read: true, write: false } }] } } })
  t.equal(late.statusCode, 201, 'the live projector goes on writing into the new tables')
  t.ok(result.position >= head)

  const verified = await cli(dir, 'rebuild', '--verify')
  t.equal(verified.code, 0, verified.out + verified.err)
})

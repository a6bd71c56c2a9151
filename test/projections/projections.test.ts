import { randomUUID } from 'node:crypto'
import Database from 'better-sqlite3'
import t, { type Test } from 'tap'
import { PROJECTIONS } from '../../projections/index.js'
import { REVOKED_PER_STACK, tokenByHash } from '../../projections/token-by-hash/index.js'
import type { Current } from '../../src/read/projection.js'
import type { DomainEvent, Recorded } from '../../src/domain/events.js'
import { SqliteEventStore } from '../../src/eventstore/sqlite.js'
import type { StoredEvent } from '../../src/eventstore/port.js'
import { Projector } from '../../src/read/projector.js'
import { createQueries } from '../../projections/queries.js'
import { waitFor } from '../support/wait-for.js'
import { admin, API_KEY, created, developer, owner, shared, tokenGenerated } from '../support/decider-spec.js'

let position = 0
const stored = (event: DomainEvent, at = '2026-03-01T12:00:00.000Z', actor = owner.uid): StoredEvent => {
  position += 1
  return {
    id: randomUUID(),
    stream: `stack-${API_KEY}`,
    revision: position - 1,
    position,
    type: event.type,
    data: event.data,
    metadata: { actor, occurred_at: at, request_id: `req-${position}`, remote_addr: '10.0.0.1', schema_version: 1 },
    recorded_at: at,
  }
}

const setup = (t: Test) => {
  const db = new Database(':memory:')
  const store = new SqliteEventStore(':memory:')
  const projector = new Projector(db, store, PROJECTIONS)
  t.teardown(async () => {
    await store.close()
    db.close()
  })
  // Within the grace of history()'s rotation (until 01:00): the token shows it.
  return { db, projector, q: createQueries(db, undefined, () => new Date('2026-03-02T00:30:00.000Z')) }
}

const dump = (db: Database.Database) =>
  Object.fromEntries(
    ['token_secrets', 'revoked_secrets', 'tokens', 'stacks', 'stack_members', 'audit_log', 'audit_titles', 'projection_checkpoints'].map((table) => [
      table,
      db.prepare(`SELECT * FROM ${table} ORDER BY 1, 2`).all(),
    ]),
  )

const history = (): StoredEvent[] => {
  position = 0
  return [
    stored(created),
    stored(shared(admin.email, ['admin'])),
    stored(shared(developer.email, ['developer'])),
    stored(tokenGenerated('blt1', 'ci', { rate_limit: { read: 5, write: 2 }, expires_on: '2027-01-01T00:00:00.000Z' }), '2026-03-01T12:00:01.000Z', admin.uid),
    stored(tokenGenerated('blt2', 'deploy'), '2026-03-01T12:00:02.000Z'),
    stored({ type: 'TokenRenamed', data: { api_key: API_KEY, token_uid: 'blt1', name: 'ci-2', description: 'renamed' } }, '2026-03-02T00:00:00.000Z'),
    stored({ type: 'TokenScopeChanged', data: { api_key: API_KEY, token_uid: 'blt1', scope: [{ module: '$all', acl: { read: true, write: true } }] } }),
    stored({ type: 'TokenLimitsChanged', data: { api_key: API_KEY, token_uid: 'blt1', rate_limit: null } }),
    stored({ type: 'TokenExpiryChanged', data: { api_key: API_KEY, token_uid: 'blt1', expires_on: null } }),
    stored({ type: 'TokenNotificationChanged', data: { api_key: API_KEY, token_uid: 'blt1', is_email_notification_enabled: true } }),
    stored(
      { type: 'TokenRotated', data: { api_key: API_KEY, token_uid: 'blt1', secret_hash: 'hash-new', previous_secret_hash: 'hash-blt1', previous_expires_at: '2026-03-02T01:00:00.000Z' } },
      '2026-03-02T00:00:00.000Z',
    ),
    stored({ type: 'TokenRevoked', data: { api_key: API_KEY, token_uid: 'blt2' } }, '2026-03-03T00:00:00.000Z'),
    stored({ type: 'MemberUnshared', data: { api_key: API_KEY, email: developer.email } }),
    stored({ type: 'OwnershipTransferred', data: { api_key: API_KEY, from_email: owner.email, to_email: admin.email } }),
  ]
}

t.test('allowed_ips: on the token and on each of its secrets, through a rotation; null when empty', async (t) => {
  const { db, projector, q } = setup(t)
  position = 0
  const ips = ['10.0.0.0/8', '2001:db8::1']
  projector.apply([
    stored(created),
    stored(tokenGenerated('blt1', 'ci', { allowed_ips: ['192.0.2.1'] })),
    stored({ type: 'TokenAllowedIpsChanged', data: { api_key: API_KEY, token_uid: 'blt1', allowed_ips: ips, before: { allowed_ips: ['192.0.2.1'] } } }),
    stored({ type: 'TokenRotated', data: { api_key: API_KEY, token_uid: 'blt1', secret_hash: 'hash-new', previous_secret_hash: 'hash-blt1', previous_expires_at: '2026-03-02T01:00:00.000Z' } }),
  ])
  const column = () => db.prepare('SELECT secret_hash, allowed_ips FROM token_secrets ORDER BY secret_hash').all()
  t.same(column(), [{ secret_hash: 'hash-blt1', allowed_ips: JSON.stringify(ips) }, { secret_hash: 'hash-new', allowed_ips: JSON.stringify(ips) }])
  t.same(q.token(API_KEY, 'blt1')?.allowed_ips, ips)
  projector.apply([stored({ type: 'TokenAllowedIpsChanged', data: { api_key: API_KEY, token_uid: 'blt1', allowed_ips: [] } })])
  t.same(column(), [{ secret_hash: 'hash-blt1', allowed_ips: null }, { secret_hash: 'hash-new', allowed_ips: null }], 'emptied: no list, no check')
  t.same(q.token(API_KEY, 'blt1')?.allowed_ips, [])
})

t.test('events -> read models', async (t) => {
  const { db, projector, q } = setup(t)
  projector.apply(history())

  t.test('token-by-hash: current secret and the rotated-out one in grace; revoked tokens gone', async (t) => {
    const rows = db.prepare('SELECT * FROM token_secrets ORDER BY secret_hash').all()
    t.same(rows, [
      { secret_hash: 'hash-blt1', token_uid: 'blt1', api_key: API_KEY, scope: '[{"module":"$all","acl":{"read":true,"write":true}}]', expires_at: null, rate_read: null, rate_write: null, valid_until: Date.parse('2026-03-02T01:00:00.000Z'), created_at: Date.parse('2026-03-01T12:00:01.000Z'), allowed_ips: null },
      { secret_hash: 'hash-new', token_uid: 'blt1', api_key: API_KEY, scope: '[{"module":"$all","acl":{"read":true,"write":true}}]', expires_at: null, rate_read: null, rate_write: null, valid_until: null, created_at: Date.parse('2026-03-01T12:00:01.000Z'), allowed_ips: null },
    ])
  })
  t.test('token-by-hash: a revoked token\'s secrets move to revoked_secrets', async (t) => {
    t.same(db.prepare('SELECT * FROM revoked_secrets').all(), [{ secret_hash: 'hash-blt2', token_uid: 'blt2', api_key: API_KEY, revoked_at: Date.parse('2026-03-03T00:00:00.000Z') }])
  })
  t.test('tokens-by-stack: live tokens with every field, never a hash', async (t) => {
    t.same(q.tokens(API_KEY), [
      {
        uid: 'blt1',
        name: 'ci-2',
        description: 'renamed',
        scope: [{ module: '$all', acl: { read: true, write: true } }],
        expires_on: null,
        rate_limit: null,
        is_email_notification_enabled: true,
        allowed_ips: [],
        created_by: admin.uid,
        updated_by: owner.uid,
        created_at: '2026-03-01T12:00:01.000Z',
        updated_at: '2026-03-02T00:00:00.000Z',
        last_rotated_at: '2026-03-02T00:00:00.000Z',
        previous_secret_expires_at: '2026-03-02T01:00:00.000Z',
      },
    ])
    t.equal(q.token(API_KEY, 'blt2'), undefined, 'revoked: not found')
    t.notMatch(JSON.stringify(db.prepare('SELECT * FROM tokens').all()), /hash/)
  })
  t.test('stack-members: roles after unshare and transfer', async (t) => {
    t.same(q.roles(API_KEY, admin.email), ['owner'])
    t.same(q.roles(API_KEY, owner.email), ['admin'])
    t.equal(q.roles(API_KEY, developer.email), undefined)
    t.equal(q.roles('nope', owner.email), undefined)
    t.same(q.members(API_KEY), [
      { email: admin.email, roles: ['owner'] },
      { email: owner.email, roles: ['admin'] },
    ])
    t.match(q.stack(API_KEY), { owner_email: admin.email, name: 'Site' })
  })
  t.test('audit-log: one entry per event, newest first, with titles', async (t) => {
    const { logs, count } = q.audit(API_KEY, { limit: 100, skip: 0 })
    t.equal(count, 14)
    t.same(
      logs.map((l) => [l.module, l.event_type, l.metadata.uid, l.metadata.title]),
      [
        ['stack', 'transfer_ownership', admin.email, admin.email],
        ['stack', 'unshare', developer.email, developer.email],
        ['management_token', 'delete', 'blt2', 'deploy'],
        ['management_token', 'rotate', 'blt1', 'ci-2'],
        ['management_token', 'update', 'blt1', 'ci-2'],
        ['management_token', 'update', 'blt1', 'ci-2'],
        ['management_token', 'update', 'blt1', 'ci-2'],
        ['management_token', 'update', 'blt1', 'ci-2'],
        ['management_token', 'update', 'blt1', 'ci-2'],
        ['management_token', 'create', 'blt2', 'deploy'],
        ['management_token', 'create', 'blt1', 'ci'],
        ['stack', 'share', developer.email, developer.email],
        ['stack', 'share', admin.email, admin.email],
        ['stack', 'create', API_KEY, 'Site'],
      ],
    )
    t.match(logs[0], { stack: API_KEY, request_id: 'req-14', remote_addr: '10.0.0.1', created_by: owner.uid })
    t.equal(q.audit(API_KEY, { limit: 2, skip: 1, module: 'management_token' }).logs[0]?.event_type, 'rotate')
    t.equal(q.audit(API_KEY, { limit: 100, skip: 0, event_type: 'update' }).count, 5)
    t.equal(q.audit(API_KEY, { limit: 100, skip: 0, actor: admin.uid }).count, 1)
    t.equal(q.audit(API_KEY, { limit: 100, skip: 0, from: '2026-03-02T00:00:00.000Z', to: '2026-03-02T23:59:59.999Z' }).count, 2)
    t.same(q.auditEntry(API_KEY, logs[0]?.uid as string), logs[0])
    // history() was recorded before events carried what they replaced: a rename still says it
    // (from the naming event before it), other updates say what changed and to what.
    const metadata = (type: string) => logs.filter((l) => l.event_type === type).map((l) => l.metadata)
    t.same(metadata('update').at(-1), { uid: 'blt1', title: 'ci-2', changed: ['name', 'description'], before: { name: 'ci', description: '' }, after: { name: 'ci-2', description: 'renamed' } })
    t.same(metadata('update')[2], { uid: 'blt1', title: 'ci-2', changed: ['rate_limit'], after: { rate_limit: null } })
    t.same(metadata('delete'), [{ uid: 'blt2', title: 'deploy', reason: 'user' }], 'a revocation recorded without a reason was a DELETE')
    t.equal(q.auditEntry(API_KEY, 'nope'), undefined)
  })
})

t.test("stack-members: a role change replaces the member's roles, keeps who shared them and when, and touches the stack", async (t) => {
  const { db, projector, q } = setup(t)
  position = 0
  const changed = (email: string, roles: string[]): DomainEvent => ({ type: 'MemberRoleChanged', data: { api_key: API_KEY, email, roles } })
  projector.apply([
    stored(created),
    stored(shared(developer.email, ['developer']), '2026-03-01T12:00:01.000Z'),
    stored(changed(developer.email, ['admin', 'content_manager']), '2026-03-05T00:00:00.000Z', admin.uid),
    stored(changed('gone@example.com', ['admin']), '2026-03-06T00:00:00.000Z', admin.uid),
  ])
  t.same(q.roles(API_KEY, developer.email), ['admin', 'content_manager'])
  t.equal(q.roles(API_KEY, 'gone@example.com'), undefined, 'no row made for someone who is not a member')
  t.same(db.prepare('SELECT shared_by, shared_at FROM stack_members WHERE email = ?').get(developer.email), { shared_by: owner.uid, shared_at: '2026-03-01T12:00:01.000Z' })
  t.match(q.stack(API_KEY), { updated_by: admin.uid, updated_by_email: null, updated_at: '2026-03-05T00:00:00.000Z' }, 'an event recorded without actor_email names no email')
})

t.test('replaying events twice changes nothing; checkpoints advance with the rows', async (t) => {
  const { db, projector } = setup(t)
  const events = history()
  projector.apply(events)
  const once = dump(db)
  projector.apply(events)
  projector.apply(events.slice(3, 8))
  t.same(dump(db), once, 'a batch already seen is skipped')
  t.equal(projector.position, 14)

  const fresh = setup(t)
  for (const e of events) fresh.projector.apply([e])
  for (const e of events) fresh.projector.apply([e])
  t.same(dump(fresh.db), once, 'event by event, twice, gives the same read models')
})

t.test('a rotation without grace drops the old secret at once', async (t) => {
  const { db, projector } = setup(t)
  position = 0
  projector.apply([
    stored(created),
    stored(tokenGenerated('blt1')),
    stored({ type: 'TokenRotated', data: { api_key: API_KEY, token_uid: 'blt1', secret_hash: 'h2', previous_secret_hash: 'hash-blt1', previous_expires_at: '2026-03-01T12:00:00.000Z' } }),
  ])
  t.same(db.prepare('SELECT secret_hash FROM token_secrets').all(), [{ secret_hash: 'h2' }])
})

t.test('the end of a grace drops every rotated-out secret and the token stops showing it; live and batched apply agree', async (t) => {
  position = 0
  const rotated = (secret_hash: string, previous_secret_hash: string, previous_expires_at: string) =>
    stored({ type: 'TokenRotated', data: { api_key: API_KEY, token_uid: 'blt1', secret_hash, previous_secret_hash, previous_expires_at } }, '2026-03-02T00:00:00.000Z')
  const events = [
    stored(created),
    stored(tokenGenerated('blt1')),
    rotated('h2', 'hash-blt1', '2026-03-02T01:00:00.000Z'),
    rotated('h3', 'h2', '2026-03-02T01:00:00.000Z'),
    stored({ type: 'RotationGraceEnded', data: { api_key: API_KEY, token_uid: 'blt1', previous_expires_at: '2026-03-02T01:00:00.000Z' } }, '2026-03-02T00:10:00.000Z', admin.uid),
  ]
  const one = setup(t)
  for (const e of events.slice(0, -1)) one.projector.apply([e])
  t.equal(one.db.prepare('SELECT COUNT(*) FROM token_secrets').pluck().get(), 3, 'before: the current secret and two in their grace')
  t.equal(one.q.token(API_KEY, 'blt1')?.previous_secret_expires_at, '2026-03-02T01:00:00.000Z')
  one.projector.apply(events.slice(-1))
  t.same(one.db.prepare('SELECT secret_hash, valid_until FROM token_secrets').all(), [{ secret_hash: 'h3', valid_until: null }], 'only the current secret is left')
  t.match(one.q.token(API_KEY, 'blt1'), { previous_secret_expires_at: null, updated_by: admin.uid, updated_at: '2026-03-02T00:10:00.000Z' })
  const batched = setup(t)
  batched.projector.apply(events)
  t.same(dump(batched.db), dump(one.db), 'the same rows either way')
})

t.test('a rotation drops rotated-out secrets whose grace is over; live and batched apply agree', async (t) => {
  position = 0
  const rotated = (secret_hash: string, previous_secret_hash: string, previous_expires_at: string, at: string) =>
    stored({ type: 'TokenRotated', data: { api_key: API_KEY, token_uid: 'blt1', secret_hash, previous_secret_hash, previous_expires_at } }, at)
  const events = [
    stored(created),
    stored(tokenGenerated('blt1')),
    rotated('h2', 'hash-blt1', '2026-03-01T13:00:00.000Z', '2026-03-01T12:00:00.000Z'),
    rotated('h3', 'h2', '2026-03-02T13:00:00.000Z', '2026-03-02T12:00:00.000Z'),
    stored({ type: 'TokenScopeChanged', data: { api_key: API_KEY, token_uid: 'blt1', scope: [{ module: 'entry', acl: { read: true, write: false } }] } }),
  ]
  const one = setup(t)
  for (const e of events) one.projector.apply([e])
  const batched = setup(t)
  batched.projector.apply(events)
  const rows = one.db.prepare('SELECT secret_hash, valid_until, scope FROM token_secrets ORDER BY secret_hash').all()
  const scope = '[{"module":"entry","acl":{"read":true,"write":false}}]'
  t.same(rows, [
    { secret_hash: 'h2', valid_until: Date.parse('2026-03-02T13:00:00.000Z'), scope },
    { secret_hash: 'h3', valid_until: null, scope },
  ], 'hash-blt1 (grace over by the second rotation) is gone; h2 is in its grace')
  t.same(dump(batched.db), dump(one.db), 'one event per transaction or all in one: the same rows')
})

t.test('a failing batch leaves rows and checkpoints as they were', async (t) => {
  const { db, projector } = setup(t)
  position = 0
  projector.apply([stored(created)])
  const before = dump(db)
  const good = stored(shared(admin.email, ['admin']))
  const bad = { ...stored(tokenGenerated('x')), data: { api_key: API_KEY } }
  t.throws(() => projector.apply([good, bad]), /cannot decode event TokenGenerated at position 3 .*token_uid/)
  const unknown = { ...stored(created), type: 'StackExploded' }
  t.throws(() => projector.apply([unknown]), /unknown event type StackExploded/)
  t.same(dump(db), before)
  t.equal(projector.position, 1)
})

t.test('waitFor resolves once every read model includes the position', async (t) => {
  const { projector } = setup(t)
  position = 0
  let done = false
  const waiting = projector.waitFor(2).then(() => {
    done = true
  })
  projector.apply([stored(created)])
  await Promise.resolve()
  t.equal(done, false)
  projector.apply([stored(shared(admin.email, ['admin']))])
  await waiting
  t.equal(done, true)
  await projector.waitFor(1)
  t.pass('an already-reached position resolves at once')
})

t.test('a batch that meets a locked read-model file is tried again, not dropped', async (t) => {
  const { mkdtempSync, rmSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const dir = mkdtempSync(join(tmpdir(), 'mt-busy-'))
  const file = join(dir, 'read-models.db')
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.pragma('busy_timeout = 5') // give up on the lock at once, so the retry path runs
  const store = new SqliteEventStore(join(dir, 'events.db'))
  const failures: unknown[] = []
  const projector = new Projector(db, store, PROJECTIONS, (e) => failures.push(e), 5)
  const other = new Database(file)
  t.teardown(async () => {
    await projector.stop()
    await store.close()
    if (other.inTransaction) other.exec('ROLLBACK')
    other.close()
    db.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const apply = projector.apply.bind(projector)
  let attempts = 0
  projector.apply = (events) => {
    attempts += 1
    apply(events)
  }
  projector.start()
  other.exec('BEGIN IMMEDIATE') // what a rebuild's swap does
  const appended = await store.append(`stack-${API_KEY}`, [{ id: randomUUID(), type: created.type, data: created.data, metadata: stored(created).metadata }], 'no_stream')
  const at = appended._tag === 'Right' ? appended.right.position : 0
  let applied = false
  const waiting = projector.waitFor(at).then(() => {
    applied = true
  })
  await waitFor(() => attempts >= 3, { label: 'the batch tried again while the file is locked' })
  t.equal(applied, false, 'not applied while locked')
  t.same(failures, [], 'the projector has not stopped')
  other.exec('COMMIT')
  await waiting
  t.equal(projector.position, at, 'applied once the lock is gone')
  t.same(failures, [])
})

t.test('revoked secrets: every secret of the token, kept for the latest revocations of each stack; live and batched apply agree', async (t) => {
  position = 0
  const at = (i: number) => new Date(Date.parse('2026-03-02T00:00:00.000Z') + i * 1000).toISOString()
  const revoke = (uid: string, i: number, api_key = API_KEY) => stored({ type: 'TokenRevoked', data: { api_key, token_uid: uid } }, at(i))
  const n = REVOKED_PER_STACK + 2
  const events = [
    stored(created),
    stored(tokenGenerated('rot')),
    stored({ type: 'TokenRotated', data: { api_key: API_KEY, token_uid: 'rot', secret_hash: 'hash-rot-2', previous_secret_hash: 'hash-rot', previous_expires_at: '2026-03-05T00:00:00.000Z' } }, at(0)),
    revoke('rot', 1),
    ...Array.from({ length: n }, (_, i) => stored(tokenGenerated(`t${i}`))),
    ...Array.from({ length: n }, (_, i) => revoke(`t${i}`, i + 2)),
  ]
  const one = setup(t)
  for (const e of events.slice(0, 4)) one.projector.apply([e])
  t.same(
    one.db.prepare('SELECT secret_hash, token_uid FROM revoked_secrets ORDER BY secret_hash').all(),
    [{ secret_hash: 'hash-rot', token_uid: 'rot' }, { secret_hash: 'hash-rot-2', token_uid: 'rot' }],
    'the current secret and the one in its grace',
  )
  t.equal(one.db.prepare('SELECT COUNT(*) FROM token_secrets').pluck().get(), 0, 'none left where a decision could allow')
  // Replayed (the engine applies a few events twice after a rebuild's swap), the token has no
  // secrets left to move and its stack's revoked secrets stay as they are.
  const left = { rows: (table: { name: string }) => (table.name === 'token_secrets' ? [] : one.db.prepare('SELECT * FROM revoked_secrets').all()) } as unknown as Current
  const again = events[3] as StoredEvent
  const recorded = { ...again, event: { type: again.type, data: again.data }, metadata: again.metadata } as unknown as Recorded
  t.same(tokenByHash.evolve(left, recorded), [], 'replayed: nothing changes')
  for (const e of events.slice(4)) one.projector.apply([e])
  const kept = one.db.prepare('SELECT token_uid FROM revoked_secrets').pluck().all() as string[]
  t.equal(kept.length, REVOKED_PER_STACK, 'bounded per stack')
  t.notOk(kept.includes('rot') || kept.includes('t0') || kept.includes('t1'), 'the oldest revocations go first')
  t.ok(kept.includes('t2') && kept.includes(`t${n - 1}`))
  const batched = setup(t)
  batched.projector.apply(events)
  t.same(dump(batched.db), dump(one.db), 'the same rows either way')
})

import { join } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import { LineWriter } from '../../src/cli/output.js'
import { API_KEY, cli, knownHistory, OTHER_KEY, TOKEN_A, TOKEN_B } from './fixtures/history.js'

const S1 = `stack-${API_KEY}`
const TABLE = [
  'POSITION  OCCURRED_AT               TYPE                      STACK                TOKEN                ACTOR             DETAILS',
  '       1  2026-03-01T09:00:00.000Z  StackCreated              blt0000000000000001  -                    u-owner           name=Site description="" owner_email=owner@example.com owner_uid=u-owner',
  '       2  2026-03-01T09:05:00.000Z  MemberShared              blt0000000000000001  -                    u-owner           email=admin@example.com roles=["admin"]',
  '       3  2026-03-01T09:10:00.000Z  TokenGenerated            blt0000000000000001  blt00000000000000aa  u-admin           name=ci description="" scope=entry:r expires_on=2026-06-01T00:00:00.000Z rate_limit=5r/2w is_email_notification_enabled=false',
  '       4  2026-03-02T10:00:00.000Z  TokenScopeChanged         blt0000000000000001  blt00000000000000aa  u-admin           scope=entry:rw before.scope=entry:r',
  '       5  2026-03-02T11:00:00.000Z  TokenRotated              blt0000000000000001  blt00000000000000aa  u-owner           previous_expires_at=2026-03-02T11:00:00.000Z',
  '       6  2026-03-03T08:00:00.000Z  TokenGenerated            blt0000000000000001  blt00000000000000bb  u-owner           name="deploy job" description=nightly scope=branch:r[main] expires_on=2026-03-04T00:00:00.000Z rate_limit=null is_email_notification_enabled=true',
  '       7  2026-03-03T09:00:00.000Z  TokenRevoked              blt0000000000000001  blt00000000000000aa  u-owner           reason=user',
  '       8  2026-03-03T10:00:00.000Z  StackCreated              blt0000000000000002  -                    u-admin           name=Other description="" owner_email=admin@example.com owner_uid=u-admin',
]
const lines = (s: string) => s.split('\n').filter((l) => l !== '')
const json = (s: string) => lines(s).map((l) => JSON.parse(l) as Record<string, unknown>)
const positions = (s: string) => json(s).map((o) => o.position)

t.test('audit on a known history', async (t) => {
  const dir = await knownHistory(t)

  t.test('table: one row per event, in log order', async (t) => {
    const r = await cli(dir, 'audit')
    t.equal(r.code, 0)
    t.equal(r.err, '')
    t.same(lines(r.out), TABLE)
  })

  t.test('--json: one object per event with exactly the documented fields, never a secret hash', async (t) => {
    const r = await cli(dir, 'audit', '--json')
    t.equal(r.code, 0)
    const all = json(r.out)
    t.equal(all.length, 8)
    t.same(all[2], {
      position: 3,
      stream: S1,
      type: 'TokenGenerated',
      occurred_at: '2026-03-01T09:10:00.000Z',
      actor: 'u-admin',
      stack: API_KEY,
      token: TOKEN_A,
      data: {
        api_key: API_KEY,
        token_uid: TOKEN_A,
        name: 'ci',
        description: '',
        scope: [{ module: 'entry', acl: { read: true, write: false } }],
        expires_on: '2026-06-01T00:00:00.000Z',
        rate_limit: { read: 5, write: 2 },
        is_email_notification_enabled: false,
      },
    })
    t.equal(
      lines(r.out)[4],
      `{"position":5,"stream":"${S1}","type":"TokenRotated","occurred_at":"2026-03-02T11:00:00.000Z","actor":"u-owner","stack":"${API_KEY}","token":"${TOKEN_A}","data":{"api_key":"${API_KEY}","token_uid":"${TOKEN_A}","previous_expires_at":"2026-03-02T11:00:00.000Z"}}`,
    )
    t.notMatch(r.out, /hash|aaaaaaaa|cccccccc/)
  })

  t.test('filters', async (t) => {
    const cases: Array<[string[], number[]]> = [
      [['--stack', OTHER_KEY], [8]],
      [['--token', TOKEN_A], [3, 4, 5, 7]],
      [['--actor', 'u-admin'], [3, 4, 8]],
      [['--actor', 'admin@example.com'], [3, 4, 8]],
      [['--type', 'create'], [1, 3, 6, 8]],
      [['--type', 'delete,rotate'], [5, 7]],
      [['--type', 'TokenRevoked'], [7]],
      [['--type', 'share'], [2]],
      [['--from', '6'], [6, 7, 8]],
      [['--since', '2026-03-02'], [4, 5, 6, 7, 8]],
      [['--until', '2026-03-02T10:00:00Z'], [1, 2, 3, 4]],
      [['--since', '2026-03-02', '--until', '2026-03-03T08:00:00.000+00:00', '--stack', API_KEY], [4, 5, 6]],
      [['--token', TOKEN_B, '--type', 'update'], []],
    ]
    for (const [args, expected] of cases) {
      const r = await cli(dir, 'audit', '--json', ...args)
      t.equal(r.code, 0, args.join(' '))
      t.same(positions(r.out), expected, args.join(' '))
    }
    const table = await cli(dir, 'audit', '--token', TOKEN_B)
    t.same(lines(table.out), [TABLE[0], TABLE[6]])
  })

  t.test('--as-of: each token as it stood then', async (t) => {
    const asOf = async (at: string, ...more: string[]) => json((await cli(dir, 'audit', '--as-of', at, '--json', ...more)).out)
    t.same(await asOf('2026-03-01T09:00:00Z'), [], 'before any token')
    t.same(await asOf('2026-03-01T23:59:59.999Z'), [
      {
        uid: TOKEN_A,
        stack: API_KEY,
        name: 'ci',
        scope: [{ module: 'entry', acl: { read: true, write: false } }],
        rate_limit: { read: 5, write: 2 },
        expires_on: '2026-06-01T00:00:00.000Z',
        status: 'active',
        revoked_at: null,
        last_changed_at: '2026-03-01T09:10:00.000Z',
      },
    ], 'day 1: read-only')
    const day2 = await asOf('2026-03-02T23:00:00Z')
    t.same(day2.map((x) => [x.scope, x.status, x.last_changed_at]), [
      [[{ module: 'entry', acl: { read: true, write: true } }], 'active', '2026-03-02T11:00:00.000Z'],
    ], 'day 2: A gained write, then was rotated')
    const day3 = await asOf('2026-03-03T12:00:00Z')
    t.same(day3.map((x) => [x.uid, x.status, x.revoked_at]), [
      [TOKEN_A, 'revoked', '2026-03-03T09:00:00.000Z'],
      [TOKEN_B, 'active', null],
    ])
    const day5 = await asOf('2026-03-05', '--token', TOKEN_B)
    t.same(day5.map((x) => [x.uid, x.status, x.name]), [[TOKEN_B, 'expired', 'deploy job']], 'expires_on <= as-of is expired')
    t.same(await asOf('2026-03-05', '--stack', OTHER_KEY), [])

    const table = await cli(dir, 'audit', '--as-of', '2026-03-03T12:00:00Z')
    t.equal(table.code, 0)
    t.same(lines(table.out), [
      'UID                  STACK                NAME                  STATUS   EXPIRES_ON                LIMITS    LAST_CHANGED_AT           REVOKED_AT                SCOPE',
      'blt00000000000000aa  blt0000000000000001  ci                    revoked  2026-06-01T00:00:00.000Z  5r/2w     2026-03-03T09:00:00.000Z  2026-03-03T09:00:00.000Z  entry:rw',
      'blt00000000000000bb  blt0000000000000001  deploy job            active   2026-03-04T00:00:00.000Z  plan      2026-03-03T08:00:00.000Z  -                         branch:r[main]',
    ])
  })

  t.test('bad usage exits 2 with a message', async (t) => {
    const cases: Array<[string[], RegExp]> = [
      [['--since', '2026-02-30'], /--since.*invalid/],
      [['--until', '2026-03-01T10:00:00'], /--until.*invalid/],
      [['--from', '0'], /--from.*integer >= 1/],
      [['--type', 'promote'], /unknown event type "promote"; use one of create, share/],
      [['--type', ','], /at least one event type/],
      [['--frobnicate'], /unknown option/],
      [['--as-of', '2026-03-01', '--type', 'create'], /--as-of .* not --type/],
    ]
    for (const [args, message] of cases) {
      const r = await cli(dir, 'audit', ...args)
      t.equal(r.code, 2, args.join(' '))
      t.match(r.err, message, args.join(' '))
    }
  })
})

t.test('a corrupted event fails the replay loudly, with its position, and the rest is still printed', async (t) => {
  const dir = await knownHistory(t)
  const db = new Database(join(dir, 'events.db'))
  db.prepare(`INSERT INTO events (id, stream, revision, type, data, metadata, recorded_at) VALUES ('bad-1', ?, 99, 'TokenRenamed', '{"api_key": ', '{}', '2026-03-04T00:00:00.000Z')`).run(S1)
  db.prepare(`INSERT INTO events (id, stream, revision, type, data, metadata, recorded_at) VALUES ('bad-2', ?, 100, 'TokenRenamed', '{"api_key":"x"}', '{"actor":"u"}', '2026-03-04T00:00:00.000Z')`).run(S1)
  db.prepare(`INSERT INTO events (id, stream, revision, type, data, metadata, recorded_at) VALUES ('bad-3', ?, 101, 'TokenPromoted', '{}', '{}', '2026-03-04T00:00:00.000Z')`).run(S1)
  db.close()
  const r = await cli(dir, 'audit', '--json')
  t.equal(r.code, 1)
  t.same(positions(r.out), [1, 2, 3, 4, 5, 6, 7, 8])
  t.match(r.err, /cannot decode the event at position 9 \(stream stack-blt0000000000000001, type TokenRenamed\): stored JSON is not valid/)
  t.match(r.err, /position 10 .*token_uid/)
  t.match(r.err, /position 11 .*unknown event type TokenPromoted/)
  t.match(r.err, /3 event\(s\) could not be decoded/)
  const asOf = await cli(dir, 'audit', '--as-of', '2026-03-05')
  t.equal(asOf.code, 1, '--as-of fails too')
  t.match(asOf.err, /position 9/)
})

t.test('LineWriter waits for drain when the destination pushes back', async (t) => {
  const written: string[] = []
  let drains = 0
  const w = new LineWriter({ out: (s) => (written.push(s), false), err: () => {}, env: {}, drain: async () => void (drains += 1) }, 10)
  t.equal(w.write('12345'), undefined, 'buffered below the chunk size')
  await w.write('67890\n')
  t.same(written, ['1234567890\n'])
  t.equal(drains, 1)
  await w.flush()
  t.equal(written.length, 1, 'nothing left to flush')
})

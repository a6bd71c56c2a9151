import { PassThrough } from 'node:stream'
import t from 'tap'
import { run } from '../../src/cli/main.js'
import { SqliteEventStore } from '../../src/eventstore/sqlite.js'
import { join } from 'node:path'
import { cli, dataDir } from './fixtures/history.js'

const countEvents = async (dir: string) => {
  const store = new SqliteEventStore(join(dir, 'events.db'))
  const byType: Record<string, number> = {}
  for await (const e of store.readAll()) byType[e.type] = (byType[e.type] ?? 0) + 1
  await store.close()
  return byType
}

t.test('seed appends a valid history whose counts match the store', async (t) => {
  const dir = dataDir(t)
  const r = await cli(dir, 'seed', '--stacks', '4', '--tokens-per-stack', '5', '--changes', '8', '--json')
  t.equal(r.code, 0, r.err)
  const counts = JSON.parse(r.out) as { events: number; commands: number; rejected: number; byType: Record<string, number> }
  t.equal(counts.rejected, 0, 'the decider refused nothing')
  t.same(await countEvents(dir), counts.byType)
  t.equal(counts.byType.StackCreated, 4)
  t.equal(counts.byType.TokenGenerated, 20)
  t.equal(
    Object.values(counts.byType).reduce((a, b) => a + b, 0),
    counts.events,
  )

  const replay = await cli(dir, 'audit', '--json')
  t.equal(replay.code, 0, 'the replay decodes all of it')
  t.equal(replay.out.split('\n').filter(Boolean).length, counts.events)

  const text = await cli(dir, 'seed', '--stacks', '1', '--tokens-per-stack', '1', '--changes', '1', '--seed', '2')
  t.equal(text.code, 0)
  t.match(text.out, /^seeded \d+ events from \d+ commands \(0 rejected, \d+ unchanged\) in [\d.]+ s \([\d,]+ events\/s\)\n {2}MemberShared +1\n {2}StackCreated +1\n/)

  const again = await cli(dir, 'seed', '--stacks', '4', '--tokens-per-stack', '5', '--changes', '8')
  t.equal(again.code, 1, 'the same seed again collides with its own streams')
  t.match(again.err, /seed: stream stack-blt\w+ already exists .*Use another --seed/)
})

t.test('seed is deterministic and obeys the live-token limit', async (t) => {
  const [a, b] = [dataDir(t), dataDir(t)]
  const args = ['seed', '--stacks', '2', '--tokens-per-stack', '6', '--changes', '3', '--seed', '7', '--start', '2026-01-01']
  for (const dir of [a, b]) {
    let err = ''
    t.equal(await run(args, { out: () => {}, err: (s) => (err += s), env: { DATA_DIR: dir, MAX_TOKENS_PER_STACK: '2' } }), 0, err)
  }
  const [ra, rb] = [await cli(a, 'audit', '--json'), await cli(b, 'audit', '--json')]
  t.equal(ra.out, rb.out, 'same seed, same history')
  t.match(ra.out, /"occurred_at":"2026-01-01T00:00:\d\d\.\d{3}Z"/, 'the synthetic clock starts at --start')
  const tokens = (await cli(a, 'audit', '--json', '--as-of', '2100-01-01')).out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { stack: string; status: string })
  t.equal(tokens.length, 12)
  for (const stack of new Set(tokens.map((x) => x.stack)))
    t.ok(tokens.filter((x) => x.stack === stack && x.status !== 'revoked').length <= 2, 'at most MAX_TOKENS_PER_STACK live tokens')
})

t.test('seed: bad usage exits 2', async (t) => {
  const dir = dataDir(t)
  t.equal((await cli(dir, 'seed', '--stacks', '2')).code, 2)
  t.equal((await cli(dir, 'seed', '--stacks', '0', '--tokens-per-stack', '1', '--changes', '1')).code, 2)
  t.equal((await cli(dir, 'seed', '--stacks', 'x', '--tokens-per-stack', '1', '--changes', '1')).code, 2)
})

t.test('progress bars are drawn on a terminal stderr only', async (t) => {
  const dir = dataDir(t)
  const tty = Object.assign(new PassThrough(), { isTTY: true, columns: 120 }) as unknown as NodeJS.WriteStream
  let drawn = ''
  ;(tty as unknown as PassThrough).on('data', (c: Buffer) => (drawn += c.toString()))
  const io = { out: () => {}, err: () => {}, env: { DATA_DIR: dir }, progressStream: tty }
  t.equal(await run(['seed', '--stacks', '2', '--tokens-per-stack', '2', '--changes', '2'], io), 0)
  t.match(drawn, /seed \[.*\] \d+% \| \d+\/\d+ events \| \d+ events\/s \| ETA/)
  drawn = ''
  t.equal(await run(['rebuild'], io), 0)
  t.match(drawn, /rebuild \[/)
  drawn = ''
  t.equal(await run(['rebuild', '--verify'], io), 0)
  t.match(drawn, /verify \[/)
})

t.test('the process io quiets EPIPE once, whatever the number of runs', async (t) => {
  const { processIo } = await import('../../src/cli/io.js')
  const before = process.stdout.listenerCount('error')
  const io = processIo()
  processIo()
  t.equal(process.stdout.listenerCount('error'), before + 1)
  t.equal(io.env, process.env)
  t.equal(typeof io.drain, 'function')
})

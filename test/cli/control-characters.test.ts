import { spawn } from 'node:child_process'
import { join } from 'node:path'
import t from 'tap'
import { stackStream } from '../../src/eventstore/streams.js'
import { SqliteEventStore } from '../../src/eventstore/sqlite.js'
import { CLI_ON_SOURCES } from '../support/cli-on-sources.js'
import { plainEnv } from '../support/plain-env.js'
import { API_KEY, cli, knownHistory } from './fixtures/history.js'

/** What a terminal would act on: C0 controls but the line feed ending each line, DEL, C1, bidi controls. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/
const EVIL_NAME = 'ci\u001b]0;pwned\u0007\u001b[2J\r\nPOSITION 999 forged\u0000\u202etxt.exe'
const EVIL_STACK = 'Site\u009b31m\u2066'
const EVIL_ACTOR = 'u-\u001b[1Aowner'
const EVIL_UID = 'blt00000000000000ee'

/** The CLI as a separate process (tsx, as test/notifications/delivery.test.ts does: tap's loader compiles slowly): stdout as bytes. */
const spawnCli = (dir: string, ...args: string[]) =>
  new Promise<{ code: number | null; stdout: Buffer; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...CLI_ON_SOURCES, ...args], {
      env: { ...plainEnv(), DATA_DIR: dir, LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const out: Buffer[] = []
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => out.push(c))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }))
  })

t.test('events stored before names were checked print escaped, never raw, in every audit output', async (t) => {
  const dir = await knownHistory(t)
  // As old data would be: appended straight to the store, past the checks of today's API.
  const store = new SqliteEventStore(join(dir, 'events.db'))
  const metadata = { actor: EVIL_ACTOR, occurred_at: '2026-03-04T00:00:00.000Z', request_id: 'req-old', remote_addr: '10.0.0.1', schema_version: 1 }
  const events = [
    {
      type: 'TokenGenerated',
      data: {
        api_key: API_KEY,
        token_uid: EVIL_UID,
        name: EVIL_NAME,
        description: 'tab\there',
        scope: [{ module: 'branch', branches: ['main\u202e'], acl: { read: true, write: false } }],
        expires_on: null,
        rate_limit: null,
        is_email_notification_enabled: false,
        secret_hash: 'e'.repeat(64),
      },
    },
    { type: 'TokenRenamed', data: { api_key: API_KEY, token_uid: EVIL_UID, name: EVIL_NAME, description: '\u0085next line' } },
  ]
  const stored = await store.append(stackStream(API_KEY), events.map((e, i) => ({ id: `old-${i}`, ...e, metadata })), 'any')
  t.equal(stored._tag, 'Right')
  const stack = { type: 'StackCreated', data: { api_key: 'blt00000000000000e1', name: EVIL_STACK, description: '', owner_email: 'o@example.com', owner_uid: 'u-o' } }
  t.equal((await store.append(stackStream('blt00000000000000e1'), [{ id: 'old-stack', ...stack, metadata }], 'no_stream'))._tag, 'Right')
  await store.close()

  for (const args of [['audit'], ['audit', '--as-of', '2026-03-05']]) {
    const r = await spawnCli(dir, ...args)
    t.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
    const text = r.stdout.toString('utf8')
    t.notMatch(text, RAW_CONTROL, `${args.join(' ')}: no raw control byte on stdout`)
    t.notOk(r.stdout.includes(0x1b) || r.stdout.includes(0x07) || r.stdout.includes(0x0d) || r.stdout.includes(0x00), `${args.join(' ')}: no ESC, BEL, CR or NUL byte`)
    const row = text.split('\n').filter((l) => l.includes(EVIL_UID))
    t.ok(row.length >= 1, `${args.join(' ')}: the token is listed`)
    t.notOk(text.split('\n').some((l) => l.startsWith('POSITION 999')), `${args.join(' ')}: the line feed in the name starts no row`)
    t.match(row[row.length - 1], /ci\\x1b\]0;pwned\\x07\\x1b\[2J\\r\\nPOSITION 999/, 'ESC, BEL, CR and LF as \\x1b, \\x07, \\r and \\n')
    t.match(row[row.length - 1], /forged\\x00\\u202etxt\.exe/, 'NUL and RLO as \\x00 and \\u202e')
    if (args.length === 1) {
      t.match(text, /u-\\x1b\[1Aowner/, 'the actor column is escaped too')
      t.match(text, /branch:r\[main\\u202e\]/, 'branch names in the scope too')
      t.match(text, /description="\\x85next line"/, 'C1 in a description')
      t.match(text, /name=Site\\x9b31m\\u2066 /, 'C1 CSI and an isolate in a stack name')
      t.match(text, /description="tab\\there"/, 'a tab as \\t')
    }
  }

  // The same JSON lines as the process writes (Io.out is process.stdout.write there).
  for (const args of [['audit', '--json'], ['audit', '--as-of', '2026-03-05', '--json']]) {
    const r = await cli(dir, ...args)
    t.equal(r.code, 0, args.join(' '))
    const text = r.out
    t.notMatch(text, RAW_CONTROL, `${args.join(' ')}: JSON escapes every control and bidi character`)
    const objects = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
    const names = objects.map((o) => ((o.data as { name?: string } | undefined)?.name ?? o.name) as string | undefined)
    t.ok(names.includes(EVIL_NAME), `${args.join(' ')}: and the JSON value is the stored name, exactly`)
  }
})

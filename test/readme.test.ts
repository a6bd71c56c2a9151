/**
 * The README's curl session runs as pasted: its shell block is taken from README.md and run by
 * bash against a started server, with only the `BASE=` line pointed at the test server and
 * `node bin/management-tokens.js` run from source (a shim, so no build is needed).
 */
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { startServer } from '../src/cli/serve.js'
import { testConfig } from '../src/config.js'
import { SqliteEventStore } from '../src/eventstore/sqlite.js'
import { stackStream } from '../src/eventstore/streams.js'

const ROOT = resolve(import.meta.dirname, '..')

/** The ```sh block that starts with `BASE=`. */
const readmeSession = (readme: string): string => {
  const block = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] as string).find((b) => b.startsWith('BASE='))
  if (!block) throw new Error('README.md has no ```sh block starting with BASE=')
  return block
}

/**
 * `node` in the session loads the TypeScript sources with the same loaders as this test (tap's,
 * so that the children's coverage is recorded against the same compiled code).
 */
const NODE_OPTIONS = process.execArgv.filter((a) => a.startsWith('--import') || a === '--enable-source-maps').join(' ')

t.test('the README curl session runs as pasted', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mt-readme-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const dataDir = join(dir, 'data')
  const server = await startServer(testConfig({ dataDir, port: 0, logLevel: 'silent' }))
  t.teardown(() => server.close())

  // `node bin/management-tokens.js` from the folder the session runs in, on the sources.
  mkdirSync(join(dir, 'bin'))
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n')
  writeFileSync(
    join(dir, 'bin', 'management-tokens.js'),
    `import { run } from ${JSON.stringify(pathToFileURL(join(ROOT, 'src/cli/main.ts')).href)}\nrun(process.argv.slice(2)).then((c) => { process.exitCode = c })\n`,
  )
  const session = readmeSession(readFileSync(join(ROOT, 'README.md'), 'utf8'))
  const script = session.replace(/^BASE=.*$/m, `BASE=${server.address}`)
  t.not(script, session, 'the BASE line is the only one changed')
  const { stdout, stderr, code } = await new Promise<{ stdout: string; stderr: string; code: number | null }>((done) => {
    execFile(
      'bash',
      ['-euo', 'pipefail', '-c', script],
      {
        cwd: dir,
        env: { ...process.env, DATA_DIR: dataDir, NODE_OPTIONS },
        timeout: 120_000,
      },
      (err, stdout, stderr) => done({ stdout, stderr, code: err ? ((err as { code?: number }).code ?? 1) : 0 }),
    )
  })
  t.equal(code, 0, `bash exits 0: ${stderr}`)
  t.match(stdout, /"notice":"Management Token created successfully\."/, 'the token is created')
  t.match(stdout, /"token":"cs[0-9a-f]{40}"/, 'its secret shown once')
  t.match(stdout, /(^|\})200$/m, 'the secret is allowed by the authorizer')
  t.match(stdout, /"logs":\[/, 'the audit log answers')
  t.match(stdout, /\{"notice":"Management Token deleted successfully\.","propagation":\{"instances":1,"confirmed":1,"ms":[\d.]+\}\}\s*$/, 'the token is revoked, by the captured uid, confirmed by the one instance')
  t.notMatch(stdout, /error_code/, 'no call failed')
  const stack = /"stack":"(blt[0-9a-f]{16})"/.exec(stdout)?.[1] as string
  const uid = /"uid":"(blt[0-9a-f]{16})","name":"ci"/.exec(stdout)?.[1] as string
  const store = new SqliteEventStore(join(dataDir, 'events.db'))
  t.teardown(() => store.close())
  t.same(
    (await store.readStream(stackStream(stack))).map((e) => [e.type, (e.data as { token_uid?: string }).token_uid]),
    [['StackCreated', undefined], ['TokenGenerated', uid], ['TokenRevoked', uid]],
    'one stack, one token, revoked by the uid the session captured',
  )
})

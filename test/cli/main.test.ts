import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createVerifier } from 'fast-jwt'
import t, { type Test } from 'tap'
import { run, type Io } from '../../src/cli/main.js'
import { CLI_ON_SOURCES } from '../support/cli-on-sources.js'
import { waitFor } from '../support/wait-for.js'

const capture = (env: Record<string, string | undefined>) => {
  const out: string[] = []
  const err: string[] = []
  const io: Io = { out: (s) => void out.push(s), err: (s) => void err.push(s), env }
  return { io, out, err }
}

/** A configured AUTH_JWT_SECRET (at least 32 bytes). */
const CONFIGURED = 'configured-secret-0123456789abcdef'

const dataDir = (t: Test) => {
  const dir = mkdtempSync(join(tmpdir(), 'mt-cli-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

t.test('authtoken mints a JWT the server verifies with the development secret', async (t) => {
  const dir = dataDir(t)
  const c = capture({ DATA_DIR: dir })
  t.equal(await run(['authtoken', '--email', 'Me@Example.com', '--sub', 'u1'], c.io), 0)
  const jwt = c.out.join('').trim()
  const secret = readFileSync(join(dir, 'authtoken-dev-secret'), 'utf8').trim()
  t.match(createVerifier({ key: secret, algorithms: ['HS256'] })(jwt), { sub: 'u1', email: 'me@example.com' })

  const other = capture({ DATA_DIR: dir, AUTH_JWT_SECRET: CONFIGURED })
  t.equal(await run(['authtoken', '--email', 'a@b.co'], other.io), 0)
  t.match(createVerifier({ key: CONFIGURED, algorithms: ['HS256'] })(other.out.join('').trim()), { email: 'a@b.co', sub: /^blt[0-9a-f]{16}$/ })

  const file = join(dir, 'jwt-secret')
  writeFileSync(file, `${CONFIGURED}\n`)
  const fromFile = capture({ DATA_DIR: dir, AUTH_JWT_SECRET_FILE: file })
  t.equal(await run(['authtoken', '--email', 'a@b.co'], fromFile.io), 0)
  t.match(createVerifier({ key: CONFIGURED, algorithms: ['HS256'] })(fromFile.out.join('').trim()), { email: 'a@b.co' }, 'AUTH_JWT_SECRET_FILE, newline trimmed')
})

t.test('authtoken --email without --sub is the same user each time', async (t) => {
  const dir = dataDir(t)
  const subOf = async (email: string) => {
    const c = capture({ DATA_DIR: dir })
    t.equal(await run(['authtoken', '--email', email], c.io), 0)
    return (createVerifier({ key: readFileSync(join(dir, 'authtoken-dev-secret'), 'utf8').trim(), algorithms: ['HS256'] })(c.out.join('').trim()) as { sub: string }).sub
  }
  const first = await subOf('me@example.com')
  t.match(first, /^blt[0-9a-f]{16}$/)
  t.equal(await subOf('me@example.com'), first, 'minted twice, one user')
  t.equal(await subOf(' Me@Example.com'), first, 'the same address in another spelling')
  t.not(await subOf('you@example.com'), first, 'another email, another user')
  const bad = capture({ DATA_DIR: dir })
  t.equal(await run(['authtoken', '--email', '\u212Aate@example.com'], bad.io), 2)
  t.match(bad.err.join(''), /--email contains characters that Unicode folds/)
})

t.test('authtoken: bad usage exits 2 with a reason', async (t) => {
  const dir = dataDir(t)
  const ttl = capture({ DATA_DIR: dir })
  t.equal(await run(['authtoken', '--email', 'a@b.co', '--ttl', '0'], ttl.io), 2)
  t.match(ttl.err.join(''), /--ttl must be a positive number/)
  const missing = capture({ DATA_DIR: dir })
  t.equal(await run(['authtoken'], missing.io), 2)
  t.match(missing.err.join(''), /--email/)
  const pub = capture({ DATA_DIR: dir, AUTH_JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\\nabc\\n-----END PUBLIC KEY-----' })
  t.equal(await run(['authtoken', '--email', 'a@b.co'], pub.io), 2)
  t.match(pub.err.join(''), /identity provider/)
  const oidc = capture({ DATA_DIR: dir, OIDC_ISSUER_URL: 'https://id.example.com', OIDC_CLIENT_ID: 'console' })
  t.equal(await run(['authtoken', '--email', 'a@b.co'], oidc.io), 2, 'no development authtokens with an identity provider')
  t.match(oidc.err.join(''), /identity provider's keys only/)
  const badEnv = capture({ DATA_DIR: dir, PORT: 'eighty' })
  t.equal(await run(['authtoken', '--email', 'a@b.co'], badEnv.io), 2)
  t.match(badEnv.err.join(''), /PORT: must be an integer/)
  const unknown = capture({})
  t.equal(await run(['frobnicate'], unknown.io), 2)
  t.equal(await run(['--help'], capture({}).io), 0)
})

const stopped = async (t: Test, address: string | undefined) => {
  process.emit('SIGTERM')
  await waitFor(async () => fetch(`${address}/healthz`).then(() => false, () => true), { label: 'server closed after SIGTERM' })
  t.pass('closed')
}

const signIn = (address: string) =>
  fetch(`${address}/v3/user-session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: { email: 'me@example.com' } }) })

t.test('serve without JWT settings: the local development secret, and no password-less sign-in unless DEV_SIGNIN', async (t) => {
  const dir = dataDir(t)
  const c = capture({ DATA_DIR: dir, PORT: '0', LOG_LEVEL: 'silent' })
  t.equal(await run(['serve'], c.io), 0)
  const banner = c.err.join('')
  t.match(banner, /development authtokens: DATA_DIR=\S+ node \S+\/bin\/management-tokens\.js authtoken --email you@example\.com/)
  const hint = /development authtokens: (.*)/.exec(banner)?.[1] as string
  t.ok(hint.includes(`DATA_DIR=${dir}`), `the hint names this server's data folder: ${hint}`)
  const address = /listening on (http:\/\/\S+)\/v3/.exec(banner)?.[1]
  t.ok(address, banner)
  t.match(banner, `console: ${address}/console/ (sign-in: external)`, 'the console URL is printed')
  const res = await fetch(`${address}/healthz`)
  t.equal(res.status, 200)
  t.equal((await signIn(address as string)).status, 404, 'POST /v3/user-session does not exist')
  const minted = capture({ DATA_DIR: dir })
  t.equal(await run(['authtoken', '--email', 'me@example.com'], minted.io), 0)
  const stacks = await fetch(`${address}/v3/stacks`, { headers: { authtoken: minted.out.join('').trim() } })
  t.equal(stacks.status, 200, 'the CLI mints authtokens the server accepts')
  await stopped(t, address)
})

t.test('serve --development (npm start): password-less sign-in on loopback', async (t) => {
  const dir = dataDir(t)
  const c = capture({ DATA_DIR: dir, PORT: '0', LOG_LEVEL: 'silent' })
  t.equal(await run(['serve', '--development'], c.io), 0)
  const banner = c.err.join('')
  const address = /listening on (http:\/\/\S+)\/v3/.exec(banner)?.[1] as string
  t.match(banner, `console: ${address}/console/ (sign-in: development)`)
  t.match(banner, /development authtokens: /)
  const res = await signIn(address)
  t.equal(res.status, 200)
  t.match(await res.json(), { user: { email: 'me@example.com' } })
  await stopped(t, address)

  const explicit = capture({ DATA_DIR: dir, PORT: '0', LOG_LEVEL: 'silent', DEV_SIGNIN: 'false' })
  t.equal(await run(['serve', '--development'], explicit.io), 0)
  t.match(explicit.err.join(''), /sign-in: external/, 'DEV_SIGNIN=false wins over the development defaults')
  await stopped(t, /listening on (http:\/\/\S+)\/v3/.exec(explicit.err.join(''))?.[1])
})

/** A loopback port nothing listens on now. */
const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })

/** What the Docker image sets (Dockerfile `ENV`). */
const IMAGE = { NODE_ENV: 'production', HOST: '0.0.0.0' }

t.test('start-up refusals exit 2 with a message naming the variable, listen nowhere and print no stack or secret', async (t) => {
  const dir = dataDir(t)
  const missing = join(dir, 'no-such-file')
  const secretFile = join(dir, 'secret')
  writeFileSync(secretFile, CONFIGURED)
  for (const [env, message] of [
    [IMAGE, /AUTH_JWT_SECRET: is required with NODE_ENV=production/],
    [{ ...IMAGE, AUTH_JWT_SECRET: '' }, /AUTH_JWT_SECRET: is set but blank/],
    [{ ...IMAGE, DEV_SIGNIN: 'true', AUTH_JWT_SECRET: CONFIGURED }, /DEV_SIGNIN: is refused with NODE_ENV=production/],
    [{ HOST: '0.0.0.0', DEV_SIGNIN: 'true' }, /DEV_SIGNIN: is refused with HOST=0\.0\.0\.0, which is not a loopback address/],
    [{ AUTH_JWT_PUBLIC_KEY: ' ' }, /AUTH_JWT_PUBLIC_KEY: is set but blank/],
    [{ AUTH_JWKS_URL: '' }, /AUTH_JWKS_URL: is set but blank/],
    [{ AUTH_JWT_SECRET: 'short-but-secret' }, /AUTH_JWT_SECRET: must be at least 32 bytes/],
    [{ AUTH_JWT_SECRET: 'local-development-secret-change-me' }, /AUTH_JWT_SECRET: is the placeholder/],
    [{ AUTH_JWT_SECRET_FILE: missing }, /AUTH_JWT_SECRET_FILE: \S+no-such-file does not exist/],
    [{ WEBHOOK_SECRET_FILE: join(dir, 'empty') }, /WEBHOOK_SECRET_FILE: \S+empty is empty/],
    [{ AUTH_JWT_SECRET: CONFIGURED, AUTH_JWT_SECRET_FILE: secretFile }, /AUTH_JWT_SECRET and AUTH_JWT_SECRET_FILE: both are set/],
  ] as const) {
    writeFileSync(join(dir, 'empty'), '')
    const port = String(await freePort())
    const data = join(dir, `data-${port}`)
    for (const argv of [['serve'], ['serve', '--development'], ['authtoken', '--email', 'a@b.co']]) {
      const c = capture({ ...env, DATA_DIR: data, PORT: port, LOG_LEVEL: 'silent' })
      const label = `${argv.join(' ')} ${JSON.stringify(env)}`
      t.equal(await run(argv, c.io), 2, label)
      const err = c.err.join('')
      t.match(err, message, label)
      t.notMatch(err, /\n\s+at /, 'no stack trace')
      t.notMatch(err, CONFIGURED, 'no secret')
      t.notMatch(err, 'short-but-secret', 'no secret')
      t.same(c.out, [], 'nothing on stdout')
      t.notOk(existsSync(join(data, 'authtoken-dev-secret')), 'no development secret made')
      t.equal(await fetch(`http://127.0.0.1:${port}/v3/user-session`, { method: 'POST' }).then((r) => r.status, () => 'refused'), 'refused', 'nothing listens')
    }
  }
})

t.test("the image's environment without a secret: the real process exits 2 naming AUTH_JWT_SECRET and never serves", async (t) => {
  const dir = dataDir(t)
  const port = await freePort()
  const child = spawn(process.execPath, [...process.execArgv, ...CLI_ON_SOURCES, 'serve'], {
    env: { ...process.env, ...IMAGE, PORT: String(port), DATA_DIR: dir, LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => void (child.exitCode === null && child.kill('SIGKILL')))
  let stderr = ''
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  await waitFor(() => child.exitCode !== null || /listening on/.test(stderr), { timeoutMs: 60_000, intervalMs: 20, label: 'the child exits or listens' })
  if (child.exitCode === null) {
    const served = await fetch(`http://127.0.0.1:${port}/v3/user-session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user":{"email":"a@b.co"}}' })
    t.fail(`it started and POST /v3/user-session answered ${served.status}`)
    child.kill('SIGKILL')
  }
  t.equal(await exited, 2, stderr)
  t.match(stderr, /^Invalid configuration:\n  AUTH_JWT_SECRET: is required with NODE_ENV=production/)
  t.notMatch(stderr, /\n\s+at /, 'no stack trace')
  t.notOk(existsSync(join(dir, 'authtoken-dev-secret')), 'no development secret made')
})

t.test('serve prints PUBLIC_URL/console/ when PUBLIC_URL is set, and the sign-in mode', async (t) => {
  const dir = dataDir(t)
  const c = capture({ DATA_DIR: dir, PORT: '0', LOG_LEVEL: 'silent', PUBLIC_URL: 'https://tokens.example.com/', AUTH_JWT_SECRET: CONFIGURED })
  t.equal(await run(['serve'], c.io), 0)
  const banner = c.err.join('')
  t.match(banner, 'console: https://tokens.example.com/console/ (sign-in: external)')
  t.notMatch(banner, /development authtokens/)
  await stopped(t, /listening on (http:\/\/\S+)\/v3/.exec(banner)?.[1])
})

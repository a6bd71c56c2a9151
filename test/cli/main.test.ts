import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createVerifier } from 'fast-jwt'
import t, { type Test } from 'tap'
import { run, type Io } from '../../src/cli/main.js'
import { waitFor } from '../support/wait-for.js'

const capture = (env: Record<string, string | undefined>) => {
  const out: string[] = []
  const err: string[] = []
  const io: Io = { out: (s) => void out.push(s), err: (s) => void err.push(s), env }
  return { io, out, err }
}

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

  const other = capture({ DATA_DIR: dir, AUTH_JWT_SECRET: 'configured' })
  t.equal(await run(['authtoken', '--email', 'a@b.co'], other.io), 0)
  t.match(createVerifier({ key: 'configured', algorithms: ['HS256'] })(other.out.join('').trim()), { email: 'a@b.co', sub: /^blt[0-9a-f]{16}$/ })
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

t.test('serve listens, answers, and stops on SIGTERM', async (t) => {
  const dir = dataDir(t)
  const c = capture({ DATA_DIR: dir, PORT: '0', LOG_LEVEL: 'silent' })
  t.equal(await run(['serve'], c.io), 0)
  const banner = c.err.join('')
  t.match(banner, /development authtokens: DATA_DIR=\S+ node \S+\/bin\/management-tokens\.js authtoken --email you@example\.com/)
  const hint = /development authtokens: (.*)/.exec(banner)?.[1] as string
  t.ok(hint.includes(`DATA_DIR=${dir}`), `the hint names this server's data folder: ${hint}`)
  const address = /listening on (http:\/\/\S+)\/v3/.exec(banner)?.[1]
  t.ok(address, banner)
  t.match(banner, `console: ${address}/console/ (sign-in: development)`, 'the console URL is printed')
  const res = await fetch(`${address}/healthz`)
  t.equal(res.status, 200)
  process.emit('SIGTERM')
  await waitFor(async () => fetch(`${address}/healthz`).then(() => false, () => true), { label: 'server closed after SIGTERM' })
  t.pass('closed')
})

t.test('serve prints PUBLIC_URL/console/ when PUBLIC_URL is set, and the sign-in mode', async (t) => {
  const dir = dataDir(t)
  const c = capture({ DATA_DIR: dir, PORT: '0', LOG_LEVEL: 'silent', PUBLIC_URL: 'https://tokens.example.com/', AUTH_JWT_SECRET: 's' })
  t.equal(await run(['serve'], c.io), 0)
  const banner = c.err.join('')
  t.match(banner, 'console: https://tokens.example.com/console/ (sign-in: external)')
  t.notMatch(banner, /development authtokens/)
  const address = /listening on (http:\/\/\S+)\/v3/.exec(banner)?.[1]
  process.emit('SIGTERM')
  await waitFor(async () => fetch(`${address}/healthz`).then(() => false, () => true), { label: 'server closed after SIGTERM' })
  t.pass('closed')
})

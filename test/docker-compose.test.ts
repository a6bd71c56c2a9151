/**
 * docker-compose.yml as shipped: it starts nothing without AUTH_JWT_SECRET, and the replicas'
 * readiness probe (run here with this machine's node, as the container runs it) passes on a
 * ready service and fails on a stopped one.
 */
import { execFile, execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import t from 'tap'
import { startServer } from '../src/cli/serve.js'
import { testConfig } from '../src/config.js'
import { tempDir } from './support/app.js'

const ROOT = resolve(import.meta.dirname, '..')
const COMPOSE = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')

const exitOf = (cmd: string, args: readonly string[], env: NodeJS.ProcessEnv) =>
  new Promise<{ code: number; stderr: string; stdout: string }>((done) =>
    execFile(cmd, args, { cwd: ROOT, env, timeout: 60_000 }, (err, stdout, stderr) =>
      done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  )

t.test('AUTH_JWT_SECRET has no default: the variable must be set', async (t) => {
  t.match(COMPOSE, /^ {4}AUTH_JWT_SECRET: \$\{AUTH_JWT_SECRET:\?set AUTH_JWT_SECRET to at least 32 random bytes\}$/m)
  t.notMatch(COMPOSE, /local-development-secret-change-me/, 'the old placeholder is gone')
  t.notMatch(COMPOSE, /AUTH_JWT_SECRET:-/, 'no fallback value')
})

t.test("the replicas' readiness probe: exit 0 on a ready service, 1 on a stopped one", async (t) => {
  const line = /^ {4}test: (\["CMD", "node", "-e", .*\])$/m.exec(COMPOSE)?.[1]
  t.ok(line, 'the x-service healthcheck runs node -e')
  const [, node, ...args] = JSON.parse(line as string) as string[]
  t.equal(node, 'node')
  t.match(args[1], /\/readyz/, 'it probes readiness, not liveness')
  const server = await startServer(testConfig({ dataDir: tempDir(t), port: 0, logLevel: 'silent' }))
  const port = new URL(server.address).port
  const env = { ...process.env, PORT: port }
  t.equal((await exitOf(process.execPath, args, env)).code, 0, 'ready')
  await server.close()
  t.equal((await exitOf(process.execPath, args, env)).code, 1, 'stopped')
})

const composeBin = (() => {
  try {
    execFileSync('docker-compose', ['version'], { stdio: 'ignore' })
    return 'docker-compose'
  } catch {
    return undefined
  }
})()

t.test('docker-compose config (Debian docker-compose, as .ci/run checks it)', { skip: composeBin ? false : 'docker-compose is not installed' }, async (t) => {
  const env = { ...process.env }
  delete env.AUTH_JWT_SECRET
  const without = await exitOf(composeBin as string, ['-f', 'docker-compose.yml', 'config', '-q'], env)
  t.not(without.code, 0, 'refused without AUTH_JWT_SECRET')
  t.match(without.stderr, /set AUTH_JWT_SECRET to at least 32 random bytes/)
  const secret = 'compose-check-secret-0123456789abcdef'
  const withSecret = await exitOf(composeBin as string, ['-f', 'docker-compose.yml', 'config'], { ...env, AUTH_JWT_SECRET: secret })
  t.equal(withSecret.code, 0, withSecret.stderr)
  for (const replica of ['service-1', 'service-2']) {
    const block = new RegExp(`^  ${replica}:\\n((?: {4}.*\\n|\\s*\\n)*)`, 'm').exec(withSecret.stdout)?.[1] ?? ''
    t.match(block, /^ {4}mem_limit: 1g$/m, `${replica}: memory limit`)
    t.match(block, /^ {4}cpus: 1\.0$/m, `${replica}: CPU limit`)
    t.match(block, /^ {4}stop_grace_period: 35s$/m, `${replica}: stop grace period`)
    t.match(block, /\/readyz/, `${replica}: readiness health check`)
    t.match(block, `AUTH_JWT_SECRET: ${secret}`, `${replica}: the secret from the environment`)
  }
})

/**
 * Two `management-tokens serve` processes sharing one event store (A's events.db), each with its
 * own read models, and optionally one Redis: what a deployment of two replicas is. Used by the
 * propagation tests and bench/propagation.ts; the processes are killed at teardown.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { mintAuthtoken } from '../../src/http/auth.js'
import { freePort } from './nginx.js'
import { plainEnv } from './plain-env.js'
import { startListening } from './listening-process.js'
import { waitFor } from './wait-for.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

export const PAIR_SECRET = 'pair-secret-of-at-least-32-bytes-0123456789'
const SERVE_CHILD = fileURLToPath(new URL('./serve-child.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export interface Instance {
  readonly base: string
  readonly child: ChildProcess
}

const startInstance = async (t: Teardown, env: Record<string, string>): Promise<Instance> => {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVE_CHILD], { cwd: ROOT, env: { ...plainEnv(), ...env }, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()))
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const listening = /listening on (http:\/\/\S+)\/v3/
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`instance exited: ${stderr}`)
      return listening.test(stderr)
    },
    { label: 'instance listening', timeoutMs: 60_000, intervalMs: 20 },
  )
  return { base: (listening.exec(stderr) as RegExpExecArray)[1] as string, child }
}

export interface Pair {
  readonly a: Instance
  readonly b: Instance
  /** A's data folder, holding the shared events.db (and instances.db without Redis). */
  readonly shared: string
}

/** A on its own data folder, B on another one reading A's events.db; both with `env`. */
export const startPair = async (t: Teardown, options: { readonly redis?: boolean; readonly env?: Record<string, string> } = {}): Promise<Pair> => {
  const dirs = [mkdtempSync(join(tmpdir(), 'mt-pair-a-')), mkdtempSync(join(tmpdir(), 'mt-pair-b-'))] as const
  t.teardown(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })
  const env: Record<string, string> = {
    PORT: '0',
    AUTH_JWT_SECRET: PAIR_SECRET,
    LOG_LEVEL: 'silent',
    // Many commands and many refusals from one address in a minute: neither is what is measured.
    MANAGEMENT_RATE_LIMIT: '1000000',
    AUTH_FAILURE_LIMIT: '1000000',
    ...options.env,
  }
  if (options.redis) {
    const port = await freePort()
    const dir = mkdtempSync(join(tmpdir(), 'mt-pair-redis-'))
    await startListening(t, { label: 'redis-server', command: 'redis-server', args: ['--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir], port, dir, stop: 'SIGTERM' })
    env.REDIS_URL = `redis://127.0.0.1:${port}`
  }
  const [a, b] = await Promise.all([
    startInstance(t, { ...env, DATA_DIR: dirs[0] }),
    startInstance(t, { ...env, DATA_DIR: dirs[1], EVENT_STORE_URL: `sqlite:${join(dirs[0], 'events.db')}` }),
  ])
  return { a, b, shared: dirs[0] }
}

const AUTHTOKEN = mintAuthtoken(PAIR_SECRET, { email: 'owner@example.com', sub: 'u-owner' })

/** A management call with the owner's authtoken; rejects unless the status is `expect`. */
export const call = async (base: string, method: string, path: string, apiKey?: string, body?: unknown, expect = 200): Promise<Record<string, any>> => {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authtoken: AUTHTOKEN, ...(apiKey ? { api_key: apiKey } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const json = (await res.json()) as Record<string, any>
  if (res.status !== expect) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`)
  return json
}

export const createStack = async (base: string): Promise<string> => (await call(base, 'POST', '/v3/stacks', undefined, { stack: { name: 'Replicated' } }, 201)).stack.api_key

export const generate = async (base: string, apiKey: string, name: string): Promise<{ uid: string; secret: string }> => {
  const { token } = await call(base, 'POST', '/v3/stacks/management_tokens', apiKey, { token: { name, scope: [{ module: 'entry', acl: { read: true } }] } }, 201)
  return { uid: token.uid, secret: token.token }
}

/** Forward-auth on `base` for a read of entries with `secret`: the status. */
export const authorize = async (base: string, apiKey: string, secret: string): Promise<number> => {
  const res = await fetch(`${base}/v3/authorize`, {
    headers: { api_key: apiKey, authorization: secret, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v3/content_types/a/entries' },
  })
  await res.arrayBuffer()
  return res.status
}

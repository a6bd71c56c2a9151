/**
 * Exactness across instances: two service processes (`management-tokens serve`) on one event
 * store and one Redis of the test's own, a token with a read budget of 20 or 64 a second driven
 * through both at 100 a second each for several windows. Each instance reserves slices of the
 * budget (at most 1/32 of it, at least 1 unit), the next window's ahead of it, and spends them
 * locally. Redis' MONITOR stream gives every HINCRBY of the token's field in each window's hash
 * (a grant, or a grant taken back), so each window's grants are known exactly; each allowed
 * answer names its unit (`X-RateLimit-Remaining` = the limit - its count), so the allowed answers can be matched to the grants.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { mintAuthtoken } from '../../src/http/auth.js'
import { JWT_SECRET, OWNER, tempDir } from '../support/app.js'
import { installed, startListening } from '../support/listening-process.js'
import { plainEnv } from '../support/plain-env.js'
import { waitFor } from '../support/wait-for.js'

const WINDOWS = 7
const URI = '/v3/content_types/blog/entries'

const freePort = async (): Promise<number> => {
  const s = createServer().listen(0, '127.0.0.1')
  await once(s, 'listening')
  const { port } = s.address() as AddressInfo
  await new Promise((resolve) => s.close(resolve))
  return port
}

/** `management-tokens serve` in a child process; resolves with its base URL once it listens. */
const serve = async (t: Test, env: NodeJS.ProcessEnv): Promise<string> => {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'test/support/serve-child.ts'], {
    env: { ...plainEnv(), PORT: '0', AUTH_JWT_SECRET: JWT_SECRET, LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()))
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    await exited
  })
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`serve exited: ${stderr}`)
      return /listening on (http:\/\/\S+)\/v3/.test(stderr)
    },
    { label: 'serve listening', timeoutMs: 60_000, intervalMs: 20 },
  )
  return (/listening on (http:\/\/\S+)\/v3/.exec(stderr) as RegExpExecArray)[1] as string
}

/**
 * A budget of 20 a second (slices of one unit: every reservation is one unit, the next window's
 * reserved ahead) and of 64 (slices of up to 2, so a slice can be left unspent).
 */
for (const LIMIT of [20, 64])
t.test(`two processes sharing one Redis never admit more than a budget of ${LIMIT} in a window, and use it`, async (t) => {
  /** The most units one reservation takes: 1/32 of the limit, at least 1. */
  const SLICE = Math.max(1, Math.floor(LIMIT / 32))
  const redisServer = installed(['redis-server', '/usr/bin/redis-server'], ['--version'])
  if (!redisServer) return t.fail('redis-server is needed (apt-get install redis-server)')
  // A Redis of the test's own: MONITOR then sees this test's commands only, and slows no one else.
  const port = await freePort()
  await startListening(t, { label: 'redis', command: redisServer, args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], port, dir: tempDir(t), stop: 'SIGTERM' })
  const redisUrl = `redis://127.0.0.1:${port}`
  const a = tempDir(t)
  // Counts must stay shared for the whole run: a count waiting past the 100 ms default on a busy
  // machine would be counted in memory instead (the outage path), outside what this test watches.
  const common = { REDIS_URL: redisUrl, PLAN_READ_LIMIT: '1000', PLAN_WRITE_LIMIT: '1000', REDIS_COMMAND_TIMEOUT_MS: '10000' }
  const [one, two] = await Promise.all([serve(t, { ...common, DATA_DIR: a }), serve(t, { ...common, DATA_DIR: tempDir(t), EVENT_STORE_URL: `sqlite:${join(a, 'events.db')}` })])

  const authtoken = mintAuthtoken(JWT_SECRET, { email: OWNER, sub: 'u-owner' })
  const post = async (path: string, body: unknown, apiKey?: string) => {
    const res = await fetch(`${one}${path}`, { method: 'POST', headers: { authtoken, 'content-type': 'application/json', ...(apiKey ? { api_key: apiKey } : {}) }, body: JSON.stringify(body) })
    t.equal(res.status, 201, path)
    return (await res.json()) as Record<string, { api_key: string; uid: string; token: string }>
  }
  const apiKey = (await post('/v3/stacks', { stack: { name: 'Budget' } })).stack!.api_key
  const token = (await post('/v3/stacks/management_tokens', { token: { name: 'ci', scope: [{ module: 'entry', acl: { read: true } }], rate_limit: { read: LIMIT, write: LIMIT } } }, apiKey)).token!
  const ask = (base: string, uri = URI) =>
    fetch(`${base}/v3/authorize`, { headers: { api_key: apiKey, authorization: token.token, 'x-forwarded-method': 'GET', 'x-forwarded-uri': uri } })
  // The second process knows the token once it refuses a path out of its scope (403, decided
  // before the budget: nothing counted).
  await waitFor(async () => (await ask(two, '/v3/assets')).status === 403, { label: 'the token on the second instance', timeoutMs: 30_000, intervalMs: 20 })

  const field = `t:read:${token.uid}`
  const monitorClient = new Redis(redisUrl, { maxRetriesPerRequest: 1 })
  const client = new Redis(redisUrl, { maxRetriesPerRequest: 1 })
  t.teardown(() => {
    monitorClient.disconnect()
    client.disconnect()
  })
  const monitor = await monitorClient.monitor()
  t.teardown(() => monitor.disconnect())
  /** Units granted per window (one hash per window, `mt-rl:w:<index>`): the sum of the token field's HINCRBYs. */
  const granted = new Map<number, number>()
  let sentinel = false
  monitor.on('monitor', (_time: string, args: string[]) => {
    const [command, key] = [String(args[0]).toLowerCase(), String(args[1])]
    if (command === 'echo' && key === `done ${token.uid}`) sentinel = true
    const index = /^mt-rl:w:(\d+)$/.exec(key)?.[1]
    if (command !== 'hincrby' || index === undefined || args[2] !== field) return
    granted.set(Number(index), (granted.get(Number(index)) ?? 0) + Number(args[3]))
  })
  const windowsSoFar = () => [...granted.entries()].sort(([a], [b]) => a - b).map(([, n]) => n)

  type Answer = { instance: 'one' | 'two'; status: number; remaining: string | null }
  const answers: Answer[] = []
  const inFlight = new Set<Promise<void>>()
  const send = (instance: Answer['instance']) => {
    const p = ask(instance === 'one' ? one : two).then(async (r) => {
      await r.arrayBuffer()
      answers.push({ instance, status: r.status, remaining: r.headers.get('x-ratelimit-remaining') })
    })
    inFlight.add(p)
    void p.finally(() => inFlight.delete(p))
  }
  // The load: one request to each instance every 10 ms (about 100/s each, three times the budget
  // together). The pace is the load's, not a wait: no assertion depends on time.
  const pace = setInterval(() => {
    send('one')
    send('two')
  }, 10)
  // Until WINDOWS + 2 windows have grants (the last only what was reserved ahead of it): WINDOWS
  // of them complete under load.
  await waitFor(() => granted.size > WINDOWS + 1, { label: `${WINDOWS + 2} windows`, timeoutMs: 120_000, intervalMs: 20 })
  clearInterval(pace)
  await Promise.all([...inFlight])
  await client.echo(`done ${token.uid}`)
  await waitFor(() => sentinel, { label: "the monitor's last command" })
  const windows = windowsSoFar()

  t.same([...new Set(answers.map((x) => x.status))].sort(), [200, 429], 'answers are 200 or 429, nothing else')
  const allowed = answers.filter((x) => x.status === 200)
  t.ok(allowed.some((x) => x.instance === 'one') && allowed.some((x) => x.instance === 'two'), 'both instances admitted requests')
  t.ok(Math.max(...windows) <= LIMIT, `granted per window: ${windows.join(', ')} (limit ${LIMIT})`)
  // An allowed answer spends one granted unit, whose count is LIMIT - remaining: a count c can be
  // seen at most once in each window that granted c units or more.
  const seen = Array.from({ length: LIMIT }, (_, i) => allowed.filter((x) => x.remaining === String(LIMIT - (i + 1))).length)
  const owed = Array.from({ length: LIMIT }, (_, i) => windows.filter((n) => n >= i + 1).length)
  t.ok(seen.every((n, i) => n <= (owed[i] as number)), "no unit was spent twice and no window admitted more than it granted")
  const total = windows.reduce((s, n) => s + n, 0)
  t.ok(allowed.length <= total && allowed.length >= total - 2 * SLICE * windows.length, `allowed ${allowed.length} of ${total} granted: each instance left at most one slice unspent per window`)
  // The first window began mid-load, the last two after it ended.
  const complete = windows.slice(1, -2)
  t.ok(complete.length >= 5, `${complete.length} complete windows under load`)
  t.ok(complete.every((n) => n === LIMIT), `each complete window granted the whole budget (${complete.join(', ')})`)
  t.ok(allowed.length >= 0.9 * total, `and ${((100 * allowed.length) / total).toFixed(1)} % of what was granted was used (at least 90 %)`)
  t.comment(`granted per window: ${windows.join(', ')}; answers: ${answers.length}, allowed ${allowed.length} (instance one ${allowed.filter((x) => x.instance === 'one').length})`)
})

/**
 * `npm run bench:stack-cost`: the CPU time of a one-email share on a stack of 5,000, 10,000 and
 * 20,000 members, and the longest the event loop was held meanwhile (what a request to any other
 * stack, forward-auth included, waits at worst). The members are appended straight to an embedded
 * store; the share goes through the real command handler. `cold` is the stack's first command
 * since start-up (its stream read and folded), `warm` the next one.
 *
 * BENCH_ROOT=<a checkout> measures that checkout's code instead (the numbers in docs/limits.md
 * compare the code before the member cap with the code after); BENCH_MEMBERS=5000,10000 picks
 * the sizes; each is measured BENCH_RUNS times (default 3) and the median run reported.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = process.env.BENCH_ROOT ?? join(dirname(fileURLToPath(import.meta.url)), '..')
const sizes = (process.env.BENCH_MEMBERS ?? '5000,10000,20000').split(',').map(Number)
const from = (path: string) => import(pathToFileURL(join(root, path)).href)

const { SqliteEventStore } = await from('src/eventstore/sqlite.ts')
const { createCommandHandler } = await from('src/write/handle-command.ts')

const API_KEY = 'bltbench000000001'
const STREAM = `stack-${API_KEY}`
const owner = { uid: 'u-owner', email: 'owner@example.com' }
const metadata = { actor: owner.uid, actor_email: owner.email, occurred_at: '2026-03-01T12:00:00.000Z', request_id: 'bench', remote_addr: '127.0.0.1', schema_version: 1 }
const event = (i: number, type: string, data: Record<string, unknown>) => ({ id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, type, data: { api_key: API_KEY, ...data }, metadata })

const cpuMs = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since)
  return (used.user + used.system) / 1000
}

/**
 * The most CPU time spent between two turns of the event loop while `work` runs (ms): CPU, not
 * wall-clock time, so that other processes on a busy machine do not inflate it.
 */
const longestStall = async <T>(work: () => Promise<T>): Promise<{ result: T; stallMs: number }> => {
  let last = process.cpuUsage()
  let stallMs = 0
  let running = true
  const tick = () => {
    stallMs = Math.max(stallMs, cpuMs(last))
    last = process.cpuUsage()
    if (running) setImmediate(tick)
  }
  setImmediate(tick)
  try {
    const result = await work()
    // Work that never let the loop turn is one stall, up to its end.
    return { result, stallMs: Math.max(stallMs, cpuMs(last)) }
  } finally {
    running = false
  }
}

const share = async (handle: (...a: unknown[]) => Promise<unknown>, email: string) => {
  const cpu = process.cpuUsage()
  const { stallMs } = await longestStall(() =>
    handle(API_KEY, { type: 'ShareStack', actor: owner, members: [{ email, roles: ['developer'] }] }, { requestId: 'bench', remoteAddr: '127.0.0.1' }),
  )
  return { cpuMs: Math.round(cpuMs(cpu)), stallMs: Math.round(stallMs) }
}

/** One stack of `members` members: its first (cold) and second (warm) one-email share. */
const measure = async (members: number) => {
  const dir = mkdtempSync(join(tmpdir(), 'mt-stack-cost-'))
  const store = new SqliteEventStore(join(dir, 'events.db'))
  const created = event(0, 'StackCreated', { name: 'bench', description: '', owner_email: owner.email, owner_uid: owner.uid })
  const all = [created, ...Array.from({ length: members }, (_, i) => event(i + 1, 'MemberShared', { email: `m${i}@example.com`, roles: ['developer'] }))]
  for (let at = 0; at < all.length; at += 1000) store.appendSync(STREAM, all.slice(at, at + 1000), at === 0 ? 'no_stream' : at - 1)
  const limits = { maxTokensPerStack: 30, planReadLimit: 10, planWriteLimit: 10, maxMembersPerStack: 1_000_000, maxEmailsPerShare: 1000, maxStacksPerUser: 1000 }
  const handle = createCommandHandler({ store, clock: () => new Date('2026-03-01T12:00:00.000Z'), policy: limits, waitForProjection: async () => {}, stacksCreatedBy: () => 0 })
  const cold = await share(handle, 'new-1@example.com')
  const warm = await share(handle, 'new-2@example.com')
  await store.close()
  rmSync(dir, { recursive: true, force: true })
  return { members, 'cold cpu ms': cold.cpuMs, 'cold longest stall ms': cold.stallMs, 'warm cpu ms': warm.cpuMs, 'warm longest stall ms': warm.stallMs }
}

/** The run with the median cold CPU time of `runs`. */
const median = async (members: number, runs: number) => {
  const all = []
  for (let i = 0; i < runs; i += 1) all.push(await measure(members))
  return all.sort((a, b) => a['cold cpu ms'] - b['cold cpu ms'])[Math.floor(runs / 2)]
}

// Not reported: compiles the code paths, so the first size measured pays no warm-up.
await measure(500)
const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 3))
const rows = []
for (const members of sizes) rows.push(await median(members, runs))
console.log(`code under ${root}`)
console.table(rows)

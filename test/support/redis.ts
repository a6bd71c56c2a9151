import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { connect } from 'node:net'

export const REDIS_PORT = 6379
export const REDIS_URL = `redis://127.0.0.1:${REDIS_PORT}`
const answers = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })

/**
 * The Redis tests need Redis on 127.0.0.1:6379 (as .ci/run provides). When none answers, start
 * one as .ci/run does, if `redis-server` is installed; otherwise fail with the one command to run.
 */
export const ensureRedis = async (port = REDIS_PORT, server = 'redis-server'): Promise<void> => {
  if (await answers(port)) return
  const started = await new Promise<boolean>((resolve) =>
    execFile(server, ['--daemonize', 'yes', '--port', String(port), '--save', '', '--appendonly', 'no'], (err) => resolve(!err)),
  )
  for (let i = 0; started && i < 100; i += 1) {
    if (await answers(port)) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(
    `Redis is needed on 127.0.0.1:${port} and could not be started: run \`redis-server --daemonize yes --port ${port} --save '' --appendonly no\` (apt-get install redis-server)`,
  )
}

/** A redis-server child process of a test's own, on its own port, that the test can kill, stop and restart. */
export interface RedisProcess {
  readonly port: number
  readonly url: string
  /** SIGKILL (or another signal); resolves once the process has exited when the signal ends it. */
  signal(signal: NodeJS.Signals): Promise<void>
  /** A new redis-server on the same port (empty, as after a crash without persistence). */
  restart(): Promise<void>
}

/** Resolves once redis-server says it accepts connections: no polling, no guessed wait. */
const spawnRedis = (port: number): Promise<ChildProcess> =>
  new Promise((resolve, reject) => {
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    const onData = (b: Buffer) => {
      out += b.toString()
      if (!/Ready to accept connections/.test(out)) return
      child.stdout?.off('data', onData)
      child.stdout?.resume()
      resolve(child)
    }
    child.stdout?.on('data', onData)
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`redis-server on ${port} exited (${code}): ${out}`)))
  })

export const redisProcess = async (t: { teardown(fn: () => unknown): void }, port: number): Promise<RedisProcess> => {
  let child = await spawnRedis(port)
  t.teardown(() => {
    child.kill('SIGCONT')
    child.kill('SIGKILL')
  })
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async signal(signal) {
      const exited = signal === 'SIGKILL' ? once(child, 'exit') : undefined
      child.kill(signal)
      await exited
    },
    async restart() {
      child = await spawnRedis(port)
    },
  }
}

import { execFile } from 'node:child_process'
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

import { createServer } from 'node:net'
import { Redis } from 'ioredis'
import t from 'tap'
import { ensureRedis } from './support/redis.js'

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })

t.test('the Redis tests start redis-server when none answers', async (t) => {
  const port = await freePort()
  await ensureRedis(port)
  const redis = new Redis(`redis://127.0.0.1:${port}`, { maxRetriesPerRequest: 1, lazyConnect: true })
  t.equal(await redis.ping(), 'PONG', `started on ${port}`)
  await redis.shutdown('NOSAVE').catch(() => undefined)
  redis.disconnect()
})

t.test('without redis-server, one line says how to start it', async (t) => {
  const port = await freePort()
  await t.rejects(ensureRedis(port, 'no-such-redis-server'), /Redis is needed on 127\.0\.0\.1:\d+ and could not be started: run `redis-server --daemonize yes --port \d+ --save '' --appendonly no`/)
})

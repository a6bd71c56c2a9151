import { Redis } from 'ioredis'
import { ENTRY_TTL_MS, type InstanceEntry, type InstanceRegistry } from './registry.js'

/**
 * The registry in Redis: one key per instance holding its position, with a TTL that Redis itself
 * enforces (no clock of any instance is compared), and a set naming the instances so that they
 * can be listed without scanning the keyspace. A member whose key has expired is a dead instance;
 * it is removed from the set by the first reader that notices.
 */
export const redisRegistry = (url: string, prefix = 'mt-prop:', ttlMs = ENTRY_TTL_MS): InstanceRegistry => {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, commandTimeout: 500, enableAutoPipelining: true })
  // Failures reach the caller through the rejected commands; without a listener ioredis would log each one.
  redis.on('error', () => {})
  const members = `${prefix}instances`
  const key = (id: string) => `${prefix}instance:${id}`
  return {
    async publish({ id, position }: InstanceEntry) {
      await redis.multi().set(key(id), String(position), 'PX', ttlMs).sadd(members, id).exec()
    },
    async live() {
      const ids = await redis.smembers(members)
      if (ids.length === 0) return []
      const positions = await redis.mget(ids.map(key))
      const entries: InstanceEntry[] = []
      const dead: string[] = []
      ids.forEach((id, i) => {
        const p = positions[i]
        if (p === null || p === undefined) dead.push(id)
        else entries.push({ id, position: Number(p) })
      })
      if (dead.length > 0) await redis.srem(members, ...dead)
      return entries
    },
    async close(id: string) {
      try {
        await redis.multi().del(key(id)).srem(members, id).exec()
      } finally {
        redis.disconnect()
      }
    },
  }
}

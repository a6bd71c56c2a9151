import { Redis } from 'ioredis'
import { ENTRY_TTL_MS, type InstanceEntry, type InstanceRegistry } from './registry.js'

/**
 * The registry in Redis: one key per instance holding its position, with a TTL that Redis itself
 * enforces (no clock of any instance is compared), and a set naming the instances so that they
 * can be listed without scanning the keyspace. A member whose key has expired is a dead instance;
 * it is removed from the set by the first reader that notices.
 *
 * Keys are scoped by `store`, an identity of the event store (its first event's id): positions
 * compare only within one store, and two deployments, or two test runs, sharing one Redis must
 * not wait for each other. Until the store has an event there is nothing to revoke, so nothing
 * is published and nobody is waited for.
 */
export const redisRegistry = (url: string, store: () => Promise<string | undefined>, prefix = 'mt-prop:', ttlMs = ENTRY_TTL_MS): InstanceRegistry => {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, commandTimeout: 500, enableAutoPipelining: true })
  // Failures reach the caller through the rejected commands; without a listener ioredis would log each one.
  redis.on('error', () => {})
  let scope: string | undefined
  const scoped = async () => (scope ??= await store().then((id) => (id === undefined ? undefined : `${prefix}${id}:`)))
  const members = (s: string) => `${s}instances`
  const key = (s: string, id: string) => `${s}instance:${id}`
  return {
    async publish({ id, position }: InstanceEntry) {
      const s = await scoped()
      if (s !== undefined) await redis.multi().set(key(s, id), String(position), 'PX', ttlMs).sadd(members(s), id).exec()
    },
    async live() {
      const s = await scoped()
      const ids = s === undefined ? [] : await redis.smembers(members(s))
      if (s === undefined || ids.length === 0) return []
      const positions = await redis.mget(ids.map((id) => key(s, id)))
      const entries: InstanceEntry[] = []
      const dead: string[] = []
      ids.forEach((id, i) => {
        const p = positions[i]
        if (p === null || p === undefined) dead.push(id)
        else entries.push({ id, position: Number(p) })
      })
      if (dead.length > 0) await redis.srem(members(s), ...dead)
      return entries
    },
    async close(id: string) {
      try {
        if (scope !== undefined) await redis.multi().del(key(scope, id)).srem(members(scope), id).exec()
      } finally {
        redis.disconnect()
      }
    },
  }
}

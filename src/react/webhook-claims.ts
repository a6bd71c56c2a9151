import { Redis } from 'ioredis'
import type { Logger } from 'pino'

/**
 * Which instance sends a webhook. Every instance with WEBHOOK_URL follows the stream and queues
 * every delivery; with REDIS_URL they share claims, so each delivery is sent by one of them and
 * a stack's next delivery waits until its previous one is done, whoever sent it.
 */
export interface WebhookClaims {
  /** `send`: this instance sends it now; `done`: another instance delivered it; `wait`: another is sending it. */
  claim(id: string): Promise<'send' | 'done' | 'wait'>
  /** The claimed delivery was accepted; others mark it sent without sending. */
  delivered(id: string): Promise<void>
  /** The claimed delivery failed; another instance may try it. */
  release(id: string): Promise<void>
  close(): Promise<void>
}

/** One instance, or no REDIS_URL: every delivery is this instance's to send. */
export const localClaims: WebhookClaims = {
  claim: async () => 'send',
  delivered: async () => {},
  release: async () => {},
  close: async () => {},
}

/** A claim outlives an instance that died while sending for this long, then another takes over. */
const CLAIM_MS = 60_000
/** How long a delivered id is remembered (longer than any retry window). */
const DONE_SECONDS = 30 * 86_400

// done? -> 'done'; claim free (or ours) -> take it -> 'send'; else 'wait'. One round trip, atomic.
const CLAIM = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 'done' end
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 'send'
end
return 'wait'`

export const redisClaims = (url: string, instance: string, logger: Logger, prefix = 'mt:webhook:'): WebhookClaims => {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, commandTimeout: 1000, lazyConnect: false })
  redis.on('error', () => {}) // reported per call below
  const keys = (id: string) => [`${prefix}claim:${id}`, `${prefix}done:${id}`] as const
  return {
    async claim(id) {
      try {
        return (await redis.eval(CLAIM, 2, ...keys(id), instance, String(CLAIM_MS))) as 'send' | 'done' | 'wait'
      } catch (e) {
        // At least once: without Redis, send (a receiver de-duplicates by id).
        logger.warn({ err: e, delivery: id }, 'webhook claims: Redis unreachable; sending without a claim')
        return 'send'
      }
    },
    async delivered(id) {
      const [claim, done] = keys(id)
      await redis.multi().set(done, instance, 'EX', DONE_SECONDS).del(claim).exec().catch(() => undefined)
    },
    async release(id) {
      await redis.del(keys(id)[0]).catch(() => undefined)
    },
    async close() {
      await redis.quit().catch(() => undefined)
    },
  }
}

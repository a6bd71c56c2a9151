import fastifyRateLimit, { type FastifyRateLimitStore } from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { LocalCounters } from '../authorizer/rate-limits.js'
import { HttpError } from './errors.js'

/** The key of a request the limit does not count: one without an authtoken. */
const NOBODY = ''
const MINUTE = 60_000

/**
 * The user an authtoken verifies as, or for one that does not verify, the client's address (the
 * route answers it 401, but a stream of them still costs a verification each). A request with no
 * authtoken is not a person's: a management token is limited by the authorizer, and no
 * credentials at all is a 401 that costs nothing.
 */
const keyOf = (req: FastifyRequest): string => {
  if (req.headers.authtoken === undefined) return NOBODY
  try {
    return `user:${req.actor().uid}`
  } catch {
    return `address:${req.ip}`
  }
}

/** The plugin's store contract over windows kept in memory, on the service's clock (tests move it). */
export const storeOn = (clock: () => Date): new () => FastifyRateLimitStore =>
  class implements FastifyRateLimitStore {
    private readonly counters = new LocalCounters()
    incr(key: string, cb: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number): void {
      const w = this.counters.hit(key, timeWindow, clock().getTime())
      cb(null, { current: w.current, ttl: w.ttl })
    }
    /* c8 ignore next 3: only a route with a limit of its own asks for a child; none has one */
    child(): FastifyRateLimitStore {
      return this
    }
  }

export interface PeopleLimitOptions {
  /** Requests per user per minute. */
  readonly max: number
  /** What the requests are, for the 429's message: "audit-log", "management". */
  readonly what: string
  readonly clock: () => Date
}

/**
 * Limits the routes declared after it in `app`'s scope to `max` requests per user per minute
 * (@fastify/rate-limit, keyed on the authtoken's subject). Over it: 429 with Retry-After and the
 * usual error body. The counts are this instance's own: the limit protects its event loop and
 * CPU, which another instance's callers do not use. Successful answers carry no rate-limit
 * headers, so they stay as the platform's.
 */
export const peopleLimit = async (app: FastifyInstance, { max, what, clock }: PeopleLimitOptions): Promise<void> => {
  await app.register(fastifyRateLimit, {
    max,
    timeWindow: MINUTE,
    store: storeOn(clock),
    keyGenerator: keyOf,
    allowList: (_req, key) => key === NOBODY,
    addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
    addHeaders: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false, 'retry-after': false },
    errorResponseBuilder: (_req, { ttl }) => {
      const seconds = Math.max(1, Math.ceil(ttl / 1000))
      return new HttpError(429, 429, `Too many ${what} requests from this user; try again in ${seconds} s.`, { authtoken: [`has made more than ${max} ${what} requests in a minute`] }, { 'retry-after': String(seconds) })
    },
  })
}

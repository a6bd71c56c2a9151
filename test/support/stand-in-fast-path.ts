/**
 * The forward-auth fast handler with a stand-in authorizer and a logger that keeps its lines:
 * for tests of the transports around it (fast-path.test.ts, raw-path.test.ts).
 */
import { pino } from 'pino'
import type { Authorizer, Decision } from '../../src/authorizer/decide.js'
import { forwardAuthFastPath } from '../../src/authorizer/fast-path.js'
import { trustFunction } from '../../src/authorizer/request-input.js'
import { errorAnswer } from '../../src/http/app.js'
import { requestIdFrom } from '../../src/http/request-id.js'
import type { RawHandler } from '../../src/raw-http/index.js'

export const standInFastPath = (authorize: Authorizer['authorize']): { readonly fast: RawHandler; readonly lines: string[] } => {
  const lines: string[] = []
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) })
  const fast = forwardAuthFastPath({
    authorizer: { authorize, limits: () => 'local', close: async () => {} },
    rateLimitAs403: false,
    proxy: 'any',
    trust: trustFunction(false),
    host: { requestIdFrom, errorAnswer },
    log,
  })
  return { fast, lines }
}

/** An allowed decision for `tokenUid`, with one rate-limit header. */
export const allow = (tokenUid: string): Decision => ({ allowed: true, outcome: 'allow', tokenUid, apiKey: 'blt1', method: 'GET', url: '/v3/assets', headers: { 'x-ratelimit-limit': '10' } })

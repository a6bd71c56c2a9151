import type { FastifyReply, FastifyRequest } from 'fastify'
import t from 'tap'
import { AccessLog } from '../../src/http/access-log.js'
import { serviceLogger } from '../../src/logger.js'

/** A request and reply of a route with the given `accessLog`, logging into `lines`. */
const exchange = (accessLog: 'debug' | undefined) => {
  const lines: Array<Record<string, unknown>> = []
  const log = serviceLogger('debug', { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) })
  const request = { routeOptions: { config: accessLog ? { accessLog } : {} }, log, raw: {}, id: 'r1' } as unknown as FastifyRequest
  const reply = { log, elapsedTime: 1.5, statusCode: 200 } as unknown as FastifyReply
  return { lines, request, reply }
}

t.test('a quiet route: both access lines at debug; a failed response still an error', async (t) => {
  const { lines, request, reply } = exchange('debug')
  const access = new AccessLog()
  access.incomingRequest(request, reply)
  access.requestCompleted(null, request, reply)
  access.requestCompleted(new Error('socket hang up'), request, reply)
  t.same(lines.map((l) => [l.msg, l.level]), [['incoming request', 20], ['request completed', 20], ['request errored', 50]])
})

t.test('any other route: fastify\'s own lines, at info', async (t) => {
  const { lines, request, reply } = exchange(undefined)
  const access = new AccessLog()
  access.incomingRequest(request, reply)
  access.requestCompleted(undefined, request, reply)
  t.same(lines.map((l) => [l.msg, l.level]), [['incoming request', 30], ['request completed', 30]])
})

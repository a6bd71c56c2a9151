import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import Fastify, { type FastifyServerOptions, type RouteOptions } from 'fastify'
import t from 'tap'
import { startServer } from '../../src/cli/serve.js'
import { serviceLogger } from '../../src/logger.js'
import type * as AppModule from '../../src/http/app.js'
import { openService } from '../../src/service.js'
import { testConfig } from '../../src/config.js'
import { FaultyStore, JWT_SECRET, OWNER, startApp, tempDir } from '../support/app.js'
import { startEsdbDouble } from '../support/esdb-double.js'
import { waitFor } from '../support/wait-for.js'

t.test('GET /healthz: live', async (t) => {
  const a = await startApp(t)
  const res = await a.call({ method: 'GET', url: '/healthz' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'ok' })
})

t.test('GET /readyz: 200 once the read models have caught up, with their position', async (t) => {
  const a = await startApp(t)
  await a.createStack()
  const res = await a.call({ method: 'GET', url: '/readyz' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { ready: true, position: 1, limits: 'local' }, 'counted in memory: no REDIS_URL')
})

t.test('GET /readyz: 503 until the read models have caught up', async (t) => {
  // A subscription that never reports catch-up: the instance is live but not ready.
  const a = await startApp(t, {
    wrapStore: (store) => {
      const stalled = new FaultyStore(store)
      stalled.subscribe = () => ({ close: async () => undefined })
      return stalled
    },
  })
  t.equal((await a.call({ method: 'GET', url: '/healthz' })).statusCode, 200)
  const res = await a.call({ method: 'GET', url: '/readyz' })
  t.equal(res.statusCode, 503)
  t.same(res.json(), { ready: false, position: 0, limits: 'local' })
})

t.test('GET /docs lists every registered route', async (t) => {
  // Record every route the app registers, through a fastify factory that adds an onRoute hook first.
  const routes: RouteOptions[] = []
  const recording = (opts: FastifyServerOptions) => {
    const app = Fastify(opts)
    app.addHook('onRoute', (r) => void routes.push(r))
    return app
  }
  const { buildApp } = await t.mockImport<typeof AppModule>('../../src/http/app.js', { fastify: Object.assign(recording, Fastify) })
  const dataDir = tempDir(t)
  const service = await openService(testConfig({ jwtSecret: JWT_SECRET, dataDir, upstreamUrl: 'http://127.0.0.1:9' }))
  t.teardown(() => service.close())
  const app = await buildApp(service, { logger: false })
  t.teardown(() => app.close())
  await app.ready()

  const res = await app.inject({ method: 'GET', url: '/docs/json' })
  t.equal(res.statusCode, 200)
  const doc = res.json() as { openapi: string; paths: Record<string, Record<string, unknown>> }
  t.match(doc.openapi, /^3\./)
  const toOpenApi = (url: string) => url.replace(/:(\w+)/g, '{$1}').replace(/\*$/, '{*}')

  const hidden = (r: RouteOptions) => (r.schema as { hide?: boolean } | undefined)?.hide === true
  const listed = routes.filter((r) => !hidden(r))
  t.ok(listed.length >= 16, `${listed.length} routes recorded`)
  t.ok(routes.some((r) => r.url === '/docs/json' && hidden(r)), '/docs itself is hidden')
  const missing: string[] = []
  for (const r of listed) {
    const methods = (Array.isArray(r.method) ? r.method : [r.method]).filter((m) => m !== 'HEAD')
    const path = doc.paths[toOpenApi(r.url)]
    for (const m of methods) if (!path?.[m.toLowerCase()]) missing.push(`${m} ${r.url}`)
  }
  t.same(missing, [], 'every route and method is in the OpenAPI document')
  const registered = new Set(listed.map((r) => toOpenApi(r.url)))
  t.same(Object.keys(doc.paths).filter((p) => !registered.has(p)), [], 'and the document lists nothing else')
  for (const must of ['/v3/stacks', '/v3/stacks/management_tokens/{uid}', '/v3/stacks/management_tokens/{uid}/rotate', '/v3/audit-logs/{uid}', '/healthz', '/readyz'])
    t.ok(doc.paths[must], must)
})

t.test('/docs is an interactive reference; every POST and PUT of the management API has its body schema, from the codecs', async (t) => {
  const a = await startApp(t)
  const ui = await a.app.inject({ method: 'GET', url: '/docs/' })
  const page = ui.statusCode === 302 ? await a.app.inject({ method: 'GET', url: ui.headers.location as string }) : ui
  t.equal(page.statusCode, 200)
  t.match(page.body, /swagger-ui/i, 'Swagger UI')
  t.match(page.headers['content-security-policy'] ?? '', /default-src|script-src/, 'with its own CSP')
  const doc = (await a.app.inject({ method: 'GET', url: '/docs/json' })).json() as {
    paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: Record<string, unknown> }> } }>>
  }
  const bodyOf = (path: string, method: string) => doc.paths[path]?.[method]?.requestBody?.content['application/json']?.schema
  const management = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.keys(ops)
      .filter((m) => (m === 'post' || m === 'put') && path.startsWith('/v3/') && !path.startsWith('/v3/authorize'))
      .map((m) => [path, m] as const),
  )
  t.ok(management.length >= 7, `${management.length} POST/PUT operations`)
  for (const [path, method] of management) t.ok(bodyOf(path, method), `${method.toUpperCase()} ${path} documents its body`)
  t.match(bodyOf('/v3/stacks/management_tokens', 'post'), {
    type: 'object',
    required: ['token'],
    additionalProperties: false,
    properties: {
      token: {
        additionalProperties: false,
        properties: {
          name: { type: 'string' },
          scope: { type: 'array', items: { properties: { module: { type: 'string' }, acl: { properties: { read: { type: 'boolean' } } } } } },
          rate_limit: { type: 'object', required: ['read', 'write'], nullable: true },
        },
      },
    },
  })
  t.match(bodyOf('/v3/stacks/management_tokens/{uid}', 'put'), { properties: { token: { properties: { uid: { description: /read-only/ } } } } })
  t.match(bodyOf('/v3/stacks/management_tokens/{uid}/rotate', 'post'), {
    properties: { previous_expires_in_seconds: { type: 'number' } },
    additionalProperties: false,
    nullable: true,
  })
})

t.test('/metrics: the process and Node.js default metrics', async (t) => {
  const a = await startApp(t)
  const metrics = (await a.call({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, /^process_cpu_seconds_total \d/m)
  t.match(metrics, /^process_resident_memory_bytes \d/m)
  t.match(metrics, /^nodejs_eventloop_lag_seconds \d/m)
  t.match(metrics, /^nodejs_heap_size_used_bytes \d/m)
})

t.test('/metrics: management-API requests by method, route pattern and status class; never a uid, key or secret', async (t) => {
  const a = await startApp(t)
  const apiKey = await a.createStack(OWNER)
  const { uid, secret } = await a.generate(apiKey, OWNER, { name: 'ci' })
  const tokenUrl = `/v3/stacks/management_tokens/${uid}`
  for (let i = 0; i < 3; i += 1) t.equal((await a.call({ method: 'GET', url: tokenUrl, as: OWNER, apiKey })).statusCode, 200)
  t.equal((await a.call({ method: 'GET', url: '/v3/stacks/management_tokens/blt0000000000000000?x=1', as: OWNER, apiKey })).statusCode, 404)
  t.equal((await a.call({ method: 'PUT', url: tokenUrl, as: OWNER, apiKey, body: { token: { name: '' } } })).statusCode, 422)
  t.equal((await a.call({ method: 'GET', url: '/healthz' })).statusCode, 200)
  const forwardAuth = await a.call({ method: 'GET', url: '/v3/authorize', headers: { authorization: secret, api_key: apiKey, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v3/content_types/blog/entries' } })
  t.equal(forwardAuth.statusCode, 200, 'a forward-auth decision')
  t.equal((await a.call({ method: 'GET', url: '/no/such/route' })).statusCode, 404)

  const metrics = (await a.call({ method: 'GET', url: '/metrics' })).body
  const count = (labels: string) => Number(new RegExp(`^http_request_duration_seconds_count\\{${labels.replace(/[/{}]/g, '\\$&')}\\} (\\d+)$`, 'm').exec(metrics)?.[1])
  t.equal(count('method="POST",route="/v3/stacks",status_class="2xx"'), 1, 'the stack created')
  t.equal(count('method="POST",route="/v3/stacks/management_tokens",status_class="2xx"'), 1, 'the token generated')
  t.equal(count('method="GET",route="/v3/stacks/management_tokens/:uid",status_class="2xx"'), 3, 'three reads of one token, under its route pattern')
  t.equal(count('method="GET",route="/v3/stacks/management_tokens/:uid",status_class="4xx"'), 1, 'a 404')
  t.equal(count('method="PUT",route="/v3/stacks/management_tokens/:uid",status_class="4xx"'), 1, 'a 422')
  t.equal(count('method="GET",route="/healthz",status_class="2xx"'), 1)
  t.match(metrics, /^http_request_duration_seconds_bucket\{le="0\.005",method="GET",route="\/v3\/stacks\/management_tokens\/:uid",status_class="2xx"\} \d+$/m, 'with durations')
  const routes = new Set([...metrics.matchAll(/^http_request_duration_seconds_count\{.*route="([^"]*)"/gm)].map((m) => m[1]))
  t.same([...routes].sort(), ['/healthz', '/v3/stacks', '/v3/stacks/management_tokens', '/v3/stacks/management_tokens/:uid'], 'route patterns only: forward-auth (counted by its decisions), /metrics and unknown URLs are not here')
  for (const leak of [uid, apiKey, secret, 'blt0000000000000000', 'x=1', '/no/such/route']) t.notOk(metrics.includes(leak), `no ${leak} in /metrics`)
})

t.test('health probes are logged at debug, other requests at info; every line names the service and its version', async (t) => {
  const { version } = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string }
  const probe = async (level: 'debug' | 'info') => {
    const a = await startApp(t, { logLevel: level })
    await a.createStack(OWNER)
    for (const url of ['/healthz', '/readyz']) t.equal((await a.call({ method: 'GET', url })).statusCode, 200, url)
    return a.logs()
  }
  const debug = await probe('debug')
  /** The lines of the requests to `url`: the incoming line names the URL, the others share its reqId. */
  const access = (url: string) => {
    const ids = new Set(debug.filter((l) => (l.req as { url?: string } | undefined)?.url === url).map((l) => l.reqId))
    return debug.filter((l) => ids.has(l.reqId))
  }
  for (const url of ['/healthz', '/readyz']) {
    const lines = access(url)
    t.same(lines.map((l) => [l.msg, l.level]), [['incoming request', 20], ['request completed', 20]], `${url}: both access lines at debug`)
  }
  const stack = access('/v3/stacks')
  t.same(stack.map((l) => [l.msg, l.level]), [['incoming request', 30], ['request completed', 30]], 'a management request at info')
  t.ok(debug.length >= 6, `${debug.length} lines captured`)
  for (const l of debug) t.match(l, { service: 'management-tokens', version, pid: Number, hostname: String }, String(l.msg))

  const info = await probe('info')
  t.same(info.filter((l) => /\/(healthz|readyz)/.test(JSON.stringify(l.req ?? ''))), [], 'at the default level, no probe is logged')
  t.ok(info.some((l) => (l.req as { url?: string } | undefined)?.url === '/v3/stacks'), 'other requests are')
  for (const l of info) t.match(l, { service: 'management-tokens', version })
})

t.test('start-up with an unreachable EventStoreDB: a warning, the service stays up, live but not ready', async (t) => {
  const lines: string[] = []
  const logger = serviceLogger('info', { write: (line: string) => void lines.push(line) })
  const config = testConfig({ jwtSecret: JWT_SECRET, dataDir: tempDir(t), port: 0, eventStoreUrl: 'esdb://127.0.0.1:1?tls=false' })
  const server = await startServer(config, logger)
  t.teardown(() => server.close())
  const logs = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>)
  await waitFor(() => logs().some((l) => l.level === 40 && /event store is unreachable/.test(String(l.msg))), { label: 'the warning', timeoutMs: 30_000 })
  const warning = logs().find((l) => l.level === 40)!
  t.match(warning, { service: 'management-tokens', err: { message: /EventStoreDB is unreachable: .*ECONNREFUSED 127\.0\.0\.1:1/ } })
  t.match(String(warning.msg), /\/readyz answers 503/)
  t.equal((await fetch(`${server.address}/healthz`)).status, 200, 'live')
  t.equal((await fetch(`${server.address}/readyz`)).status, 503, 'not ready, as before')
})

t.test('start-up with a reachable EventStoreDB (the gRPC double): it says so, and no warning', async (t) => {
  const double = await startEsdbDouble()
  t.teardown(() => double.stop())
  const lines: string[] = []
  const logger = serviceLogger('info', { write: (line: string) => void lines.push(line) })
  const service = await openService(testConfig({ jwtSecret: JWT_SECRET, dataDir: tempDir(t), eventStoreUrl: double.url }), { logger })
  t.teardown(() => service.close())
  const logs = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>)
  await waitFor(() => logs().some((l) => l.msg === 'the event store answered at start-up'), { label: 'the check', timeoutMs: 30_000 })
  t.same(logs().filter((l) => (l.level as number) >= 40), [], 'no warning')
})

import Fastify, { type FastifyServerOptions, type RouteOptions } from 'fastify'
import t from 'tap'
import type * as AppModule from '../../src/http/app.js'
import { openService } from '../../src/service.js'
import { testConfig } from '../../src/config.js'
import { FaultyStore, JWT_SECRET, startApp, tempDir } from '../support/app.js'

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
  t.same(res.json(), { ready: true, position: 1 })
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
  t.same(res.json(), { ready: false, position: 0 })
})

t.test('GET /docs lists every registered route (SPEC 10, issue 2 item 6)', async (t) => {
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

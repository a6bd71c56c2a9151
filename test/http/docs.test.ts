/**
 * /docs as a person uses it: every operation says which credentials it takes, what it answers on
 * success and failure, and its example body works as pasted. Each claim of the document is checked
 * against the running routes, so the reference cannot drift from the service.
 */
import t from 'tap'
import { OPERATIONS } from '../../src/http/operations.js'
import { OWNER, startApp } from '../support/app.js'

interface Op {
  security?: Array<Record<string, string[]>>
  responses: Record<string, { description?: string; content?: Record<string, { schema: { properties?: Record<string, unknown> } }> }>
  requestBody?: { content: Record<string, { schema: { example?: unknown } }> }
}
type Doc = { paths: Record<string, Record<string, Op>>; components: { securitySchemes: Record<string, { name: string }> } }

const fromOpenApi = (path: string) => path.replace(/\{(\w+)\}/g, ':$1')
/** What a gateway sends to describe the original request. */
const DESCRIBED = { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v3/content_types' }
const fill = (path: string) => path.replace('{uid}', 'bltnotatoken00000').replace('{*}', 'v3/content_types')

t.test('every management operation declares the credentials it takes; without them the route answers 401', async (t) => {
  const a = await startApp(t)
  const doc = (await a.app.inject({ method: 'GET', url: '/docs/json' })).json() as Doc
  t.same(Object.keys(doc.components.securitySchemes).sort(), ['api_key', 'authtoken', 'management_token'])
  const ops = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([m, op]) => ({ path, method: m.toUpperCase(), op })))
  // The one public /v3 operation: a leaked secret is reported by whoever holds it (checked below).
  const isPublic = (o: { path: string; method: string }) => OPERATIONS[`${o.method} ${fromOpenApi(o.path)}`]?.access === 'public'
  const v3 = ops.filter((o) => o.path.startsWith('/v3/') && !isPublic(o))
  // A real stack's api_key, so that what is missing is the credential alone.
  const apiKey = await a.createStack()
  t.ok(v3.length >= 18, `${v3.length} /v3 operations`)
  for (const { path, method, op } of v3) {
    const key = `${method} ${fromOpenApi(path)}`
    t.ok(path.startsWith('/v3/authorize') || OPERATIONS[key], `${key} is described`)
    t.ok(op.security && op.security.length > 0, `${key} declares security`)
    if (method === 'OPTIONS' || method === 'HEAD') continue
    const res = await a.app.inject({ method: method as 'GET', url: fill(path), headers: { api_key: apiKey, ...(path === '/v3/authorize' ? DESCRIBED : {}) }, ...(op.requestBody && !path.startsWith('/v3/authorize') ? { payload: {} } : {}) })
    t.equal(res.statusCode, 401, `${key} without credentials: 401`)
    t.ok(op.responses['401'], `${key} documents its 401`)
    t.type((res.json() as { error_code?: unknown }).error_code, 'number', `${key}: the 401 is the service's error body`)
  }
  t.same(doc.paths['/v3/leaked-secrets']?.post?.security, [], 'leaked secrets take no credentials')
  const reported = await a.app.inject({ method: 'POST', url: '/v3/leaked-secrets', payload: { token: 'cs' + '0'.repeat(40) } })
  t.equal(reported.statusCode, 202, 'and answer without them')
  t.ok(doc.paths['/v3/leaked-secrets']?.post?.responses['202'], 'documented 202')
  for (const { path, method, op } of ops.filter((o) => !o.path.startsWith('/v3/'))) {
    t.same(op.security, [], `${method} ${path} takes no credentials`)
    if (method !== 'GET') continue
    const res = await a.app.inject({ method: 'GET', url: path })
    t.not(res.statusCode, 401, `${method} ${path} is open`)
  }
  // Operations on a stack name both schemes together; the stack listing takes the authtoken alone.
  t.same(doc.paths['/v3/stacks/management_tokens']?.post?.security, [{ authtoken: [], api_key: [] }])
  t.same(doc.paths['/v3/stacks']?.get?.security, [{ authtoken: [], api_key: [] }, { authtoken: [] }])
})

t.test('every documented example body is accepted as pasted, with the documented success status', async (t) => {
  const a = await startApp(t)
  const doc = (await a.app.inject({ method: 'GET', url: '/docs/json' })).json() as Doc
  const opOf = (method: string, path: string) => doc.paths[path]?.[method.toLowerCase()] as Op
  const exampleOf = (method: string, path: string) => opOf(method, path).requestBody?.content['application/json']?.schema.example
  const documented = (method: string, path: string) => Object.keys(opOf(method, path).responses).filter((s) => s.startsWith('2'))

  const withBodies = Object.entries(OPERATIONS).filter(([, o]) => o.example !== undefined)
  t.ok(withBodies.length >= 7, `${withBodies.length} operations carry an example`)
  for (const [key] of withBodies) {
    const [method, url] = key.split(' ') as [string, string]
    t.ok(exampleOf(method, url.replace(/:(\w+)/g, '{$1}')) !== undefined, `${key} shows its example in /docs`)
  }

  const run = async (method: string, path: string, apiKey?: string, uid?: string) => {
    const res = await a.call({
      method: method as 'POST',
      url: path.replace('{uid}', uid ?? ''),
      as: OWNER,
      ...(apiKey ? { apiKey } : {}),
      body: exampleOf(method, path),
    })
    t.same(documented(method, path), [String(res.statusCode)], `${method} ${path} with its example: ${res.statusCode} ${res.statusCode >= 300 ? res.body : ''}`)
    return res.json() as Record<string, any>
  }
  const created = await run('POST', '/v3/stacks')
  const apiKey = created.stack.api_key as string
  const token = await run('POST', '/v3/stacks/management_tokens', apiKey)
  t.match(token.token.token, /^cs[0-9a-f]{40}$/, 'the created token carries its secret once')
  await run('PUT', '/v3/stacks/management_tokens/{uid}', apiKey, token.token.uid)
  await run('POST', '/v3/stacks/management_tokens/{uid}/rotate', apiKey, token.token.uid)
  await run('POST', '/v3/stacks/share', apiKey)
  await run('POST', '/v3/stacks/unshare', apiKey)
  await run('POST', '/v3/stacks/share', apiKey)
  await run('POST', '/v3/stacks/transfer_ownership', apiKey)
})

t.test('documented error statuses are the ones the routes give', async (t) => {
  const a = await startApp(t)
  const doc = (await a.app.inject({ method: 'GET', url: '/docs/json' })).json() as Doc
  const apiKey = await a.createStack()
  const cases: Array<[string, string, string, Parameters<typeof a.call>[0]]> = [
    ['post', '/v3/stacks/management_tokens', '422', { method: 'POST', url: '/v3/stacks/management_tokens', as: OWNER, apiKey, body: { token: { name: 'x', scope: [{ module: 'nope' }] } } }],
    ['post', '/v3/stacks/management_tokens', '412', { method: 'POST', url: '/v3/stacks/management_tokens', as: OWNER, apiKey: 'bltunknown', body: {} }],
    ['post', '/v3/stacks/management_tokens', '403', { method: 'POST', url: '/v3/stacks/management_tokens', as: 'someone@example.com', apiKey, body: {} }],
    ['post', '/v3/stacks/management_tokens', '400', { method: 'POST', url: '/v3/stacks/management_tokens', as: OWNER, apiKey, body: '{', headers: { 'content-type': 'application/json' } }],
    ['get', '/v3/stacks/management_tokens/{uid}', '404', { method: 'GET', url: '/v3/stacks/management_tokens/bltnone', as: OWNER, apiKey }],
  ]
  for (const [method, path, status, call] of cases) {
    const res = await a.call(call)
    t.equal(String(res.statusCode), status, `${method.toUpperCase()} ${path}: ${status}`)
    const documented = doc.paths[path]?.[method]?.responses[status]
    t.ok(documented, `and /docs lists ${status} for it`)
    t.ok(documented?.content?.['application/json']?.schema.properties?.error_code, 'with the error body')
  }
})

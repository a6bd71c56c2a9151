/**
 * docs/gateways/' Traefik and Envoy files, which cannot run here (no binaries): each parses as
 * YAML without duplicate keys, admits only documented options (test/support/gateway-schemas.ts),
 * and says what the service needs. Then the service is asked as each file makes the proxy ask
 * (only the headers the file passes, at the address or prefix it names): a valid token is
 * allowed, and the headers the file copies are the ones the service answers with.
 */
import { Ajv } from 'ajv'
import t, { type Test } from 'tap'
import { parseDocument } from 'yaml'
import { ENVOY_PREFIX } from '../../src/authorizer/forward-auth-answer.js'
import { appOver } from '../support/app-over.js'
import { authorizerFixture, fakeWallClock } from '../support/authorizer-fixtures.js'
import { ENVOY_BOOTSTRAP, TRAEFIK_DYNAMIC, TRAEFIK_STATIC } from '../support/gateway-schemas.js'
import { shipped } from '../support/gateways.js'

/** The file as data (read as untyped configuration): YAML 1.2, duplicate keys an error, every problem reported. */
const load = (name: string): any => {
  const doc = parseDocument(shipped(name), { uniqueKeys: true, prettyErrors: true })
  if (doc.errors.length + doc.warnings.length > 0) throw new Error(`${name}: ${[...doc.errors, ...doc.warnings].map((e) => e.message).join('; ')}`)
  return doc.toJS()
}

const ajv = new Ajv({ allErrors: true, strict: true })
const valid = (t: Test, name: string, schema: object, data: unknown) => {
  const check = ajv.compile(schema)
  t.ok(check(data), `${name} admits only documented options: ${ajv.errorsText(check.errors)}`)
}

const READ = [{ module: 'entry', acl: { read: true, write: false } }]
const lower = (names: readonly string[]) => names.map((n) => n.toLowerCase())

/** The service set up for one proxy (FORWARD_AUTH_PROXY), with a stack and a token that reads entries. */
const serviceFor = async (t: Test, forwardAuthProxy: 'traefik' | 'envoy') => {
  fakeWallClock(t)
  const f = await authorizerFixture(t, { forwardAuthProxy })
  const app = await appOver(t, f.deps)
  const apiKey = await f.createStack()
  return { app, apiKey, tok: await f.generateToken(apiKey, { scope: READ }) }
}

t.test('traefik.yml and dynamic.yml', async (t) => {
  const statics = load('traefik.yml')
  const dynamic = load('dynamic.yml')
  valid(t, 'traefik.yml', TRAEFIK_STATIC, statics)
  valid(t, 'dynamic.yml', TRAEFIK_DYNAMIC, dynamic)

  t.equal(statics.entryPoints.web.address, ':8000', 'clients use the placeholder port')
  t.equal(statics.entryPoints.web.forwardedHeaders, undefined, "no client's X-Forwarded-* is believed")
  t.match(statics.providers.file.filename, /\/dynamic\.yml$/, 'the routes are dynamic.yml')
  const http = dynamic.http
  t.same(http.routers.cma.middlewares, ['management-tokens', 'strip-token'], 'checked first, then stripped of the secret')
  t.same(http.routers.cma.entryPoints, Object.keys(statics.entryPoints))
  const auth = http.middlewares['management-tokens'].forwardAuth
  t.equal(auth.address, 'http://127.0.0.1:3000/v3/authorize', 'the service placeholder, at forward-auth')
  t.equal(auth.trustForwardHeader, false, "Traefik's own X-Forwarded-*, never a client's")
  t.notOk(lower(auth.authRequestHeaders).some((h) => h.startsWith('x-original-') || h.startsWith('x-forwarded-')), 'no client-sent origin headers reach the service')
  t.same(http.middlewares['strip-token'].headers.customRequestHeaders, { Authorization: '' }, 'the secret never goes upstream')
  t.same(http.services[http.routers.cma.service].loadBalancer.servers, [{ url: 'http://127.0.0.1:8080' }], 'the CMA placeholder')

  // The service asked as Traefik asks: the listed headers, X-Forwarded-Method and -Uri, GET.
  const { app, apiKey, tok } = await serviceFor(t, 'traefik')
  const client: Record<string, string> = { api_key: apiKey, authorization: `Bearer ${tok.secret}`, branch: 'main', 'x-original-method': 'DELETE', 'x-original-uri': '/v3/stacks' }
  const passed = Object.fromEntries(Object.entries(client).filter(([name]) => lower(auth.authRequestHeaders).includes(name)))
  const res = await app.inject({ method: 'GET', url: new URL(auth.address).pathname, headers: { ...passed, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v3/content_types/blog/entries' } })
  t.equal(res.statusCode, 200, 'a valid token is allowed with only the headers the file passes')
  for (const name of lower(auth.authResponseHeaders)) t.type(res.headers[name], 'string', `the service answers ${name}`)
  t.same(lower(auth.authResponseHeaders).sort(), ['x-stack-api-key', 'x-token-uid'], "the token's identity goes upstream")
})

t.test('envoy.yaml', async (t) => {
  const envoy = load('envoy.yaml')
  valid(t, 'envoy.yaml', ENVOY_BOOTSTRAP, envoy)

  const listener = envoy.static_resources.listeners[0]
  t.equal(listener.address.socket_address.port_value, 8000, 'clients use the placeholder port')
  const hcm = listener.filter_chains[0].filters[0].typed_config
  t.equal(hcm.use_remote_address, true, "X-Forwarded-For ends with the client's address")
  t.equal(hcm.normalize_path, true)
  t.equal(hcm.merge_slashes, true)
  t.equal(hcm.path_with_escaped_slashes_action, 'REJECT_REQUEST', 'an encoded slash has no second reading')
  t.same(hcm.http_filters.map((x: { name: string }) => x.name), ['envoy.filters.http.ext_authz', 'envoy.filters.http.router'], 'checked before routed')
  const route = hcm.route_config.virtual_hosts[0].routes[0]
  t.same(route.request_headers_to_remove, ['authorization'], 'the secret never goes upstream')
  const authz = hcm.http_filters[0].typed_config
  t.equal(authz.failure_mode_allow, false, 'the service unreachable: refused')
  const service = authz.http_service
  t.equal(service.path_prefix, ENVOY_PREFIX, "the service's Envoy prefix")
  const clusters = Object.fromEntries(envoy.static_resources.clusters.map((c: { name: string }) => [c.name, c]))
  const endpoint = (name: string) => {
    const a = clusters[name].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address
    return `${a.address}:${a.port_value}`
  }
  t.equal(endpoint(service.server_uri.cluster), '127.0.0.1:3000', 'the service placeholder')
  t.equal(service.server_uri.uri, 'http://127.0.0.1:3000')
  t.equal(endpoint(route.route.cluster), '127.0.0.1:8080', 'the CMA placeholder')
  const exact = (m: { patterns: Array<{ exact: string }> }) => m.patterns.map((p) => p.exact)

  // The service asked as Envoy asks: the original method, the prefix and path, the allowed headers
  // (Authorization is always among them).
  const { app, apiKey, tok } = await serviceFor(t, 'envoy')
  const client: Record<string, string> = { api_key: apiKey, authorization: tok.secret, branch: 'main', 'x-forwarded-method': 'DELETE' }
  const allowed = ['authorization', ...exact(authz.allowed_headers)]
  t.ok(allowed.includes('x-forwarded-for'), "the check carries X-Forwarded-For: the client address for tokens' allowed_ips")
  const passed = Object.fromEntries(Object.entries(client).filter(([name]) => allowed.includes(name)))
  const res = await app.inject({ method: 'GET', url: `${service.path_prefix}/v3/content_types/blog/entries`, headers: passed })
  t.equal(res.statusCode, 200, 'a valid token is allowed with only the headers the file passes')
  t.same(exact(service.authorization_response.allowed_upstream_headers).sort(), ['x-stack-api-key', 'x-token-uid'], "the token's identity goes upstream")
  for (const name of exact(service.authorization_response.allowed_upstream_headers)) t.type(res.headers[name], 'string', `the service answers ${name}`)
  const budget = Object.keys(res.headers).filter((h) => /^(x-)?ratelimit/.test(h))
  t.same(exact(service.authorization_response.allowed_client_headers_on_success).sort(), budget.sort(), "every rate-limit header of an allowed answer reaches the client")
  t.same(route.response_headers_to_remove.slice().sort(), budget.sort(), "and the upstream's own are dropped")
})

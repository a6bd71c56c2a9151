import { readFileSync } from 'node:fs'
import t from 'tap'
import { canonicalMethod, canonicalTarget, DECIDED_METHODS, TOKEN_METHODS } from '../../src/authorizer/canonical.js'
import { describedByEnvoy, describedByHeaders, type ForwardAuthProxy, type ScannedHeaders, scanHeaders } from '../../src/authorizer/origin.js'
import { parseHead } from '../../src/raw-http/parse-head.js'

/** A request's headers as Node's raw list gives them, scanned as every surface scans them. */
const req = (...pairs: Array<[string, string]>): ScannedHeaders => scanHeaders(pairs.flat())

t.test('canonical target: unreserved characters are decoded once, one trailing slash dropped, the query kept', async (t) => {
  t.same(canonicalTarget('/v3/%77orkflows'), { path: '/v3/workflows', query: '' })
  t.same(canonicalTarget('/v3/content_types/bl%6Fg/entries/%7Ex-_.y'), { path: '/v3/content_types/blog/entries/~x-_.y', query: '' })
  t.same(canonicalTarget('/v3/assets/'), { path: '/v3/assets', query: '' })
  t.same(canonicalTarget('/v3/assets?include_count=true&q=%7B%22a%22%3A1%7D'), { path: '/v3/assets', query: '?include_count=true&q=%7B%22a%22%3A1%7D' })
  t.same(canonicalTarget('/'), { path: '/', query: '' })
  t.same(canonicalTarget("/v3/x:y@z!$&'()*+,="), { path: "/v3/x:y@z!$&'()*+,=", query: '' }, 'the other pchar characters are one reading')
  t.same(canonicalTarget('/v3/%2e%2e.x'), { path: '/v3/...x', query: '' }, 'dots inside a segment are not a dot segment')
})

t.test('canonical target: anything that could be read two ways is refused, saying why', async (t) => {
  const cases: Array<[string, RegExp, string?]> = [
    ['', /URI is missing/, 'uri'],
    ['v3/assets', /must be a path starting with "\/"/, 'uri'],
    ['http://cma.example/v3/assets', /must be a path/, 'uri'],
    [`/v3/${'a'.repeat(5000)}`, /longer than 4096/, 'uri'],
    ['/v3/assets/%2e%2e/stacks', /"\." or "\.\." segment/],
    ['/v3/assets/%2E%2E/stacks', /"\." or "\.\." segment/],
    ['/v3/assets/../stacks', /"\." or "\.\." segment/],
    ['/v3/assets/./x', /"\." or "\.\." segment/],
    ['/v3/assets/..', /"\." or "\.\." segment/],
    ['/v3/assets//x', /empty segment/],
    ['//v3/assets', /empty segment/],
    ['/v3/assets/x//', /empty segment/],
    ['/v3/assets%2Fx', /%2F, an encoded "\/"/],
    ['/v3/assets%2fx', /%2f, an encoded "\/"/],
    ['/v3/assets%5Cx', /%5C, an encoded "\\"/],
    ['/v3/assets\\..\\stacks', /backslash/],
    ['/v3/assets%252F', /%25, an encoded "%"/, 'path'],
    ['/v3/assets%3Fx', /%3F, an encoded "\?"/],
    ['/v3/assets%23x', /%23/],
    ['/v3/assets%00', /%00, an encoded a control character/],
    ['/v3/assets%C3%A9', /%C3, an encoded a non-ASCII character/],
    ['/v3/assets%20x', /%20, an encoded a space/],
    ['/v3/assets%zz', /not a percent-encoding/],
    ['/v3/assets%4', /not a percent-encoding/],
    ['/v3/assets%', /not a percent-encoding/],
    ['/V3/assets', /upper case/],
    ['/v3/Stacks/share', /upper case/],
    ['/v3/%53tacks/share', /upper case .*encoded as %53/],
    ['/v3/assets;x', /matrix parameter/],
    ['/v3/stacks/..;/share', /matrix parameter/],
    ['/v3/assets#x', /fragment/],
    ['/v3/assets?x=1#frag', /fragment/, 'uri'],
    ['/v3/assets x', /a space/],
    ['/v3/assets\tx', /a control character/],
    ['/v3/assets\u00e9', /a non-ASCII character/],
    ['/v3/assets"', /has """/],
    ['/v3/assets<x>', /has "<"/],
    ['/v3/assets?q=a b', /query has a space/, 'uri'],
    ['/v3/assets?q=\u00e9', /query has a non-ASCII/, 'uri'],
    ['/v3/content_types/a/entries/b?_method=DELETE', /_method/, 'uri'],
    ['/v3/assets?x=1&_METHOD=PUT', /_method/, 'uri'],
  ]
  for (const [raw, message, field = 'path'] of cases) {
    const c = canonicalTarget(raw)
    t.match(c, { refused: message, field }, JSON.stringify(raw.length > 40 ? `${raw.slice(0, 40)}...` : raw))
  }
  t.same(canonicalTarget('/v3/assets?my_method=1'), { path: '/v3/assets', query: '?my_method=1' }, 'only the _method parameter itself')
})

t.test('canonical method: upper-cased, from the known set, never assumed', async (t) => {
  t.equal(canonicalMethod('GET'), 'GET')
  t.equal(canonicalMethod('delete'), 'DELETE')
  t.equal(canonicalMethod('Patch'), 'PATCH')
  t.match(canonicalMethod(undefined), { field: 'method', problem: 'is required' })
  t.match(canonicalMethod(''), { field: 'method', problem: 'is required' })
  t.match(canonicalMethod('OPTIONS'), { refused: /cannot send OPTIONS/, problem: 'is not allowed' })
  t.match(canonicalMethod('GET, DELETE'), { problem: 'is not allowed' }, 'a joined repeated header is no method')
  t.match(canonicalMethod('X'.repeat(100)), { refused: /XXXXXXXXXXXXXXXXXXXX\.\.\. requests/ })
})

t.test('one method set: what a token may send, what the authorizer routes take, what the socket reader reads, what the docs say', async (t) => {
  for (const m of TOKEN_METHODS) t.equal(canonicalMethod(m), m, `${m}: a token's`)
  t.same(DECIDED_METHODS.filter((m) => !(TOKEN_METHODS as readonly string[]).includes(m)), ['OPTIONS'], 'the routes take OPTIONS besides, to refuse it with its reason')
  for (const m of DECIDED_METHODS) {
    const head = parseHead(Buffer.from(`${m} /v3/authorize/envoy/v3/assets HTTP/1.1\r\nHost: a\r\n\r\n`, 'latin1'), 0)
    t.equal(head?.method, m, `${m}: the socket reader reads it, so the fast path can answer it`)
  }
  const doc = readFileSync(new URL('../../docs/authorizer.md', import.meta.url), 'utf8')
  const listed = `${TOKEN_METHODS.slice(0, -1).join(', ')} or ${TOKEN_METHODS.at(-1)}`
  t.match(doc, `the method is missing or not ${listed} |`, 'the reasons table')
  t.match(doc, `**Method**: upper-cased, one of ${TOKEN_METHODS.join(', ')}.`, 'the canonical request')
})

t.test('origin headers: each proxy set alone describes the request', async (t) => {
  const traefik = req(['X-Forwarded-Method', 'POST'], ['X-Forwarded-Uri', '/v3/assets'])
  const nginx = req(['X-Original-Method', 'DELETE'], ['X-Original-URI', '/v3/assets/a'])
  t.same(describedByHeaders(traefik, 'any'), { method: 'POST', uri: '/v3/assets' })
  t.same(describedByHeaders(traefik, 'traefik'), { method: 'POST', uri: '/v3/assets' })
  t.same(describedByHeaders(nginx, 'any'), { method: 'DELETE', uri: '/v3/assets/a' })
  t.same(describedByHeaders(nginx, 'nginx'), { method: 'DELETE', uri: '/v3/assets/a' })
})

t.test('origin headers: a client cannot choose which set is read', async (t) => {
  // nginx sets X-Original-*; the client adds the Traefik pair to be judged on a readable path.
  const forged = req(['X-Forwarded-Method', 'GET'], ['X-Forwarded-Uri', '/v3/assets'], ['X-Original-Method', 'DELETE'], ['X-Original-URI', '/v3/content_types/a'])
  t.match(describedByHeaders(forged, 'any'), { refused: /describe different requests/, field: 'uri' })
  t.same(describedByHeaders(forged, 'nginx'), { method: 'DELETE', uri: '/v3/content_types/a' }, 'pinned to nginx, the client pair is not read')
  t.same(describedByHeaders(forged, 'traefik'), { method: 'GET', uri: '/v3/assets' }, 'pinned to traefik (which sets its own pair), the nginx pair is not read')
  const agreeing = req(['X-Forwarded-Method', 'get'], ['X-Forwarded-Uri', '/v3/assets'], ['X-Original-Method', 'GET'], ['X-Original-URI', '/v3/assets'])
  t.same(describedByHeaders(agreeing, 'any'), { method: 'get', uri: '/v3/assets' }, 'two sets that agree are one description')
})

t.test('origin headers: a missing method or URI is refused, never taken from the auth request', async (t) => {
  // nginx's documented auth_request example sets only X-Original-URI.
  t.match(describedByHeaders(req(['X-Original-URI', '/v3/assets']), 'any'), { field: 'x-original-method', problem: 'is required' })
  t.match(describedByHeaders(req(['X-Original-URI', '/v3/assets']), 'nginx'), { field: 'x-original-method' })
  t.match(describedByHeaders(req(['X-Forwarded-Method', 'GET']), 'any'), { field: 'x-forwarded-uri', problem: 'is required' })
  t.match(describedByHeaders(req(['X-Forwarded-Method', 'GET']), 'nginx'), { field: 'x-original-method' }, 'pinned: the other set does not count')
  t.match(describedByHeaders(req(), 'any'), { field: 'uri', refused: /not described/ })
  // A complete forged Traefik pair beside nginx's half: the half is refused, not ignored.
  const half = req(['X-Forwarded-Method', 'GET'], ['X-Forwarded-Uri', '/v3/assets'], ['X-Original-URI', '/v3/content_types/a'])
  t.match(describedByHeaders(half, 'any'), { field: 'x-original-method' })
})

t.test('origin headers: repeated origin or credential headers, and method overrides, are refused', async (t) => {
  const base: Array<[string, string]> = [['X-Forwarded-Method', 'GET'], ['X-Forwarded-Uri', '/v3/assets']]
  for (const name of ['X-Forwarded-Uri', 'x-forwarded-method', 'X-Original-URI', 'X-Original-Method', 'api_key', 'Authorization', 'branch']) {
    const pairs: Array<[string, string]> = [...base, [name, 'a'], [name.toUpperCase(), 'b']]
    for (const proxy of ['any', 'traefik', 'nginx'] as ForwardAuthProxy[])
      t.match(describedByHeaders(req(...pairs), proxy), { field: name.toLowerCase(), problem: 'is repeated' }, `${name} twice (${proxy})`)
  }
  for (const name of ['X-HTTP-Method-Override', 'X-HTTP-Method', 'X-Method-Override'])
    t.match(describedByHeaders(req(...base, [name, 'DELETE']), 'any'), { field: name.toLowerCase(), problem: 'is not accepted' }, name)
  t.same(describedByHeaders(req(...base, ['X-Forwarded-For', '1.2.3.4'], ['X-Forwarded-For', '5.6.7.8']), 'any'), { method: 'GET', uri: '/v3/assets' }, 'other headers may repeat')
})

t.test('origin headers: Envoy checks', async (t) => {
  t.same(describedByEnvoy(req(), 'any', 'DELETE', '/v3/assets/a'), { method: 'DELETE', uri: '/v3/assets/a' })
  t.same(describedByEnvoy(req(), 'envoy', 'GET', '/v3/assets'), { method: 'GET', uri: '/v3/assets' })
  t.match(describedByEnvoy(req(), 'nginx', 'GET', '/v3/assets'), { refused: /Envoy path prefix is not in use/ })
  t.match(describedByHeaders(req(['X-Forwarded-Method', 'GET'], ['X-Forwarded-Uri', '/v3/assets']), 'envoy'), { refused: /ask on the Envoy path prefix/ })
  const forged = req(['X-Original-Method', 'GET'], ['X-Original-URI', '/v3/assets'])
  t.match(describedByEnvoy(forged, 'any', 'DELETE', '/v3/assets/a'), { refused: /another request than the Envoy check/ })
  t.same(describedByEnvoy(forged, 'any', 'GET', '/v3/assets'), { method: 'GET', uri: '/v3/assets' }, 'agreeing headers are harmless')
  t.same(describedByEnvoy(forged, 'envoy', 'DELETE', '/v3/assets/a'), { method: 'DELETE', uri: '/v3/assets/a' }, 'pinned: only the check itself counts')
  t.match(describedByEnvoy(req(['X-Original-URI', '/v3/assets']), 'any', 'GET', '/v3/assets'), { field: 'x-original-method' })
  t.match(describedByEnvoy(req(['authorization', 'a'], ['authorization', 'b']), 'envoy', 'GET', '/v3/assets'), { problem: 'is repeated' })
})

t.test("the header scan reads what Node's own req.headers gives, for every name it watches (fast-check)", async (t) => {
  const { IncomingMessage } = await import('node:http')
  const { Socket } = await import('node:net')
  const fc = (await import('fast-check')).default
  const watched = ['api_key', 'authorization', 'branch', 'x-forwarded-method', 'x-forwarded-uri', 'x-original-method', 'x-original-uri', 'x-request-id', 'content-length', 'transfer-encoding']
  const spelling = (name: string) =>
    fc.constantFrom(name, name.toUpperCase(), name.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase()), name.replace(/-uri$/, '-URI'))
  const header = fc.oneof(
    fc.constantFrom(...watched).chain((n) => fc.tuple(spelling(n), fc.constantFrom('0', '7', 'GET', 'r-1', 'a b', '/v3/assets', 'chunked', ''))),
    fc.tuple(fc.constantFrom('Host', 'Accept', 'X-Forwarded-For', 'User-Agent', 'Branches'), fc.constantFrom('x', '1.2.3.4')),
  )
  const singles = watched.slice(0, 7)
  const keys = ['apiKey', 'authorization', 'branch', 'forwardedMethod', 'forwardedUri', 'originalMethod', 'originalUri'] as const
  let checked = 0
  fc.assert(
    fc.property(fc.array(header, { maxLength: 8 }), (pairs) => {
      const raw = pairs.flat()
      const node = new IncomingMessage(new Socket())
      // What Node's parser does with a request's headers (lib/_http_incoming.js).
      ;(node as unknown as { _addHeaderLines(raw: string[], n: number): void })._addHeaderLines(raw, raw.length)
      const h = node.headers
      const s = scanHeaders(raw)
      const count = (n: string) => pairs.filter(([k]) => k.toLowerCase() === n).length
      const repeated = singles.some((n) => count(n) > 1)
      if (repeated !== (s.problem !== undefined)) return false
      if (!repeated) {
        checked++
        for (const [i, n] of singles.entries()) if (s[keys[i] as (typeof keys)[number]] !== h[n]) return false
      }
      const given = h['x-request-id']
      if ((s.requestId !== undefined && /^[\w.-]{1,100}$/.test(s.requestId)) !== (typeof given === 'string' && /^[\w.-]{1,100}$/.test(given))) return false
      const length = h['content-length']
      const body = h['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
      // Never a body missed; a repeated content-length (Node keeps the first, llhttp refuses it
      // before any of this) counts as a body when any of them is not 0: the request goes to fastify.
      return count('content-length') > 1 ? !body || s.body : s.body === body
    }),
    { numRuns: 2000, seed: 20261202 },
  )
  t.ok(checked > 200, `values compared on ${checked} lists without a repeated single header`)
})

import t from 'tap'
import { ADMIN, OWNER, READ_ENTRIES, startApp, type TestApp } from '../support/app.js'

const TOKENS = '/v3/stacks/management_tokens'

/** Every character class the rule names: C0 (tab and line feed too), DEL, C1, the bidi marks. */
const REFUSED: ReadonlyArray<[string, string]> = [
  ['NUL', '\u0000'],
  ['BEL', '\u0007'],
  ['TAB', '\t'],
  ['LF', '\n'],
  ['CR', '\r'],
  ['ESC', '\u001b'],
  ['US', '\u001f'],
  ['DEL', '\u007f'],
  ['NEL', '\u0085'],
  ['CSI', '\u009b'],
  ['ALM', '\u061c'],
  ['LRM', '\u200e'],
  ['RLM', '\u200f'],
  ['LRE', '\u202a'],
  ['RLO', '\u202e'],
  ['LRI', '\u2066'],
  ['PDI', '\u2069'],
]

const allEvents = async (a: TestApp): Promise<number> => {
  let n = 0
  for await (const _ of a.service.store.readAll()) n += 1
  return n
}

const refusal = (field: string) => ({ [field]: [/^must not contain control or bidirectional formatting characters \(found U\+[0-9A-F]{4} at index \d+\)$/] })

t.test('a control or bidi character in any free-text field: 422 naming the field, and nothing appended', async (t) => {
  const a = await startApp(t)
  const apiKey = await a.createStack(OWNER)
  await a.share(apiKey, OWNER, ADMIN, ['admin'])
  const tok = await a.generate(apiKey, OWNER, { name: 'ci' })
  const before = await allEvents(a)
  const evil = 'x\u001b]0;pwned\u0007\r\nBcc: evil@example.com'
  const branch = (entry: Record<string, unknown>) => ({ token: { name: 'b', scope: [{ acl: { read: true }, ...entry }] } })
  const cases: Array<[string, string, unknown, string]> = [
    ['POST', TOKENS, { token: { name: evil, scope: READ_ENTRIES } }, 'token.name'],
    ['POST', TOKENS, { token: { name: 'ok', description: evil, scope: READ_ENTRIES } }, 'token.description'],
    ['POST', TOKENS, branch({ module: `entry${evil}` }), 'token.scope[0].module'],
    ['POST', TOKENS, branch({ module: 'branch', branches: ['main', evil] }), 'token.scope[0].branches[1]'],
    ['POST', TOKENS, branch({ module: 'branch_alias', branch_aliases: [evil] }), 'token.scope[0].branch_aliases[0]'],
    ['PUT', `${TOKENS}/${tok.uid}`, { token: { name: evil } }, 'token.name'],
    ['PUT', `${TOKENS}/${tok.uid}`, { token: { description: evil } }, 'token.description'],
    ['PUT', `${TOKENS}/${tok.uid}`, branch({ module: 'branch', branches: [evil] }), 'token.scope[0].branches[0]'],
    ['POST', '/v3/stacks', { stack: { name: evil } }, 'stack.name'],
    ['POST', '/v3/stacks', { stack: { name: 'ok', description: evil } }, 'stack.description'],
    ['POST', '/v3/stacks', { stack: { name: 'ok', master_locale: evil } }, 'stack.master_locale'],
    ['POST', '/v3/stacks/share', { emails: [`dev${evil}@example.com`] }, 'emails[0]'],
    ['POST', '/v3/stacks/share', { emails: ['dev@example.com'], roles: { 'dev@example.com': [`admin${evil}`] } }, 'roles.dev@example.com[0]'],
    ['POST', '/v3/stacks/unshare', { email: `${ADMIN}${evil}` }, 'email'],
    ['POST', '/v3/stacks/transfer_ownership', { transfer_to: `${ADMIN}${evil}` }, 'transfer_to'],
  ]
  for (const [method, url, body, field] of cases) {
    const res = await a.call({ method: method as 'POST', url, as: OWNER, apiKey, body })
    t.equal(res.statusCode, 422, `${method} ${url} ${field}: ${res.body}`)
    t.equal(res.json().error_code, 119, field)
    t.match(res.json().errors, refusal(field), field)
    t.same(Object.keys(res.json().errors), [field], `${field} alone is named`)
    t.match(res.json().error_message, new RegExp(`^${field.replace(/[.[\]]/g, '\\$&')}: must not contain`))
  }

  for (const [what, c] of REFUSED) {
    const res = await a.call({ method: 'POST', url: TOKENS, as: OWNER, apiKey, body: { token: { name: `ci ${c} bot`, scope: READ_ENTRIES } } })
    t.equal(res.statusCode, 422, what)
    const code = (c.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0')
    t.same(res.json().errors, { 'token.name': [`must not contain control or bidirectional formatting characters (found U+${code} at index 3)`] }, what)
  }
  t.equal(await allEvents(a), before, 'nothing appended, in any stream')
})

t.test('the refusal is about those characters only: other Unicode, emoji sequences and a role key are accepted', async (t) => {
  const a = await startApp(t)
  const apiKey = await a.createStack(OWNER, 'Café Zürich 東京')
  const tok = await a.generate(apiKey, OWNER, { name: 'déploiement 👩‍💻 «nightly»', description: 'שלום, مرحبا — mixed scripts without overrides' })
  const token = (await a.call({ method: 'GET', url: `${TOKENS}/${tok.uid}`, as: OWNER, apiKey })).json().token
  t.equal(token.name, 'déploiement 👩‍💻 «nightly»', 'the zero-width joiner of an emoji sequence stays')
  const share = await a.call({ method: 'POST', url: '/v3/stacks/share', as: OWNER, apiKey, body: { emails: [ADMIN], roles: { [ADMIN]: ['admin'] } } })
  t.equal(share.statusCode, 200, share.body)
})

t.test('/docs documents the rule on each free-text field', async (t) => {
  const a = await startApp(t)
  const doc = (await a.app.inject({ method: 'GET', url: '/docs/json' })).json()
  const name = doc.paths['/v3/stacks/management_tokens'].post.requestBody.content['application/json'].schema.properties.token.properties.name
  t.match(name, { type: 'string', pattern: /^\^\[\^/ })
  const pattern = new RegExp(name.pattern as string)
  t.ok(pattern.test('déploiement 👩‍💻'), 'the pattern accepts plain text')
  for (const [what, c] of REFUSED) t.notOk(pattern.test(`a${c}b`), `the pattern refuses ${what}`)
})

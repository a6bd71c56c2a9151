import t from 'tap'
import { ADMIN, CONTENT_MANAGER, DEVELOPER, OWNER, START, STRANGER, startApp } from '../support/app.js'

t.test('POST /v3/stacks: the caller becomes the owner', async (t) => {
  const a = await startApp(t, { clock: true })
  const res = await a.call({ method: 'POST', url: '/v3/stacks', as: OWNER, body: { stack: { name: ' Blog ', description: 'the blog' } } })
  t.equal(res.statusCode, 201, res.body)
  const { notice, stack } = res.json()
  t.equal(notice, 'Stack created successfully.')
  t.match(stack.api_key, /^blt[0-9a-f]{16}$/)
  t.same(stack, {
    api_key: stack.api_key,
    name: 'Blog',
    description: 'the blog',
    owner_uid: 'u-owner',
    master_locale: 'en-us',
    created_by: 'u-owner',
    updated_by: 'u-owner',
    created_at: START.toISOString(),
    updated_at: START.toISOString(),
  })
  const got = await a.call({ method: 'GET', url: '/v3/stacks', as: OWNER, apiKey: stack.api_key })
  t.equal(got.statusCode, 200)
  t.same(got.json(), { stack: { ...stack, role: 'owner', plan: { rate_limit: { read: 10, write: 10 }, max_tokens: 30 } } })

  for (const [body, field] of [
    [{ stack: { name: '' } }, 'stack.name'],
    [{ stack: { name: 'x'.repeat(201) } }, 'stack.name'],
    [{ stack: {} }, 'stack.name'],
    [{ stack: { name: 'x', description: 3 } }, 'stack.description'],
    [{}, 'stack'],
    [[], 'body'],
  ] as const) {
    const bad = await a.call({ method: 'POST', url: '/v3/stacks', as: OWNER, body })
    t.equal(bad.statusCode, 422, JSON.stringify(body))
    t.equal(bad.json().error_code, 119)
    t.ok(bad.json().errors[field], `${field}: ${bad.body}`)
  }
  const anon = await a.call({ method: 'POST', url: '/v3/stacks', body: { stack: { name: 'x' } } })
  t.equal(anon.statusCode, 401)
  t.equal(anon.json().error_code, 105)
})

t.test('stack members and roles', async (t) => {
  const a = await startApp(t, { clock: true })
  const apiKey = await a.createStack()
  const share = (by: string, body: unknown) => a.call({ method: 'POST', url: '/v3/stacks/share', as: by, apiKey, body })
  const unshare = (by: string, email: string) => a.call({ method: 'POST', url: '/v3/stacks/unshare', as: by, apiKey, body: { email } })
  const members = async () => (await a.call({ method: 'GET', url: '/v3/stacks/members', as: OWNER, apiKey })).json().members

  t.test('share: owner and admins add members with roles', async (t) => {
    const res = await share(OWNER, { emails: [' Admin@Example.com '], roles: { 'admin@example.com': ['admin'] } })
    t.equal(res.statusCode, 200, res.body)
    t.same(res.json(), { notice: 'The stack has been successfully shared.', shared_emails: ['admin@example.com'] })
    const byAdmin = await share(ADMIN, {
      emails: [DEVELOPER, CONTENT_MANAGER],
      roles: { [DEVELOPER]: ['developer'], [CONTENT_MANAGER]: ['content_manager'] },
    })
    t.equal(byAdmin.statusCode, 200, byAdmin.body)
    t.same(await members(), [
      { email: ADMIN, roles: ['admin'] },
      { email: CONTENT_MANAGER, roles: ['content_manager'] },
      { email: DEVELOPER, roles: ['developer'] },
      { email: OWNER, roles: ['owner'] },
    ])
  })

  t.test('sharing again with the same roles appends nothing', async (t) => {
    const before = await a.eventTypes(apiKey)
    t.equal((await share(OWNER, { emails: [DEVELOPER], roles: { [DEVELOPER]: ['developer'] } })).statusCode, 200)
    t.same(await a.eventTypes(apiKey), before)
  })

  t.test('share: 422 for a bad email, an unknown role, no role, the owner, no emails', async (t) => {
    for (const [body, field] of [
      [{ emails: ['not-an-email'], roles: { 'x@example.com': ['admin'] } }, 'emails'],
      [{ emails: ['x@example.com'], roles: { 'not-an-email': ['admin'] } }, 'roles.not-an-email'],
      [{ emails: ['not-an-email', 'nor-this'], roles: { 'x@example.com': ['admin'] } }, 'emails'],
      [{ emails: ['x@example.com'], roles: { 'x@example.com': ['superuser'] } }, 'roles.x@example.com'],
      [{ emails: ['x@example.com'] }, 'roles.x@example.com'],
      [{ emails: [OWNER], roles: { [OWNER]: ['admin'] } }, 'emails'],
      [{ emails: [] }, 'emails'],
      [{ emails: 'x@example.com' }, 'emails'],
      [{ emails: ['x@example.com'], roles: { 'x@example.com': 'admin' } }, 'roles.x@example.com'],
    ] as const) {
      const res = await share(OWNER, body)
      t.equal(res.statusCode, 422, JSON.stringify(body))
      t.ok(res.json().errors[field], `${field}: ${res.body}`)
      t.equal(Object.keys(res.json().errors)[0], field, 'the field at fault is named first')
    }
  })

  t.test('share, unshare: 403 for developers, content managers and non-members', async (t) => {
    for (const who of [DEVELOPER, CONTENT_MANAGER, STRANGER]) {
      const s = await share(who, { emails: ['x@example.com'], roles: { 'x@example.com': ['admin'] } })
      t.equal(s.statusCode, 403, `${who} share`)
      t.equal(s.json().error_code, 162)
      t.equal((await unshare(who, ADMIN)).statusCode, 403, `${who} unshare`)
    }
  })

  t.test('GET /v3/stacks and /v3/roles: any member; 403 for non-members', async (t) => {
    for (const who of [OWNER, ADMIN, DEVELOPER, CONTENT_MANAGER]) {
      t.equal((await a.call({ method: 'GET', url: '/v3/stacks', as: who, apiKey })).statusCode, 200, who)
      const roles = await a.call({ method: 'GET', url: '/v3/roles', as: who, apiKey })
      t.equal(roles.statusCode, 200)
      t.same(roles.json().roles.map((r: { uid: string; name: string }) => [r.uid, r.name]), [
        ['admin', 'Admin'],
        ['developer', 'Developer'],
        ['content_manager', 'Content Manager'],
      ])
    }
    for (const url of ['/v3/stacks', '/v3/roles', '/v3/stacks/members']) {
      const res = await a.call({ method: 'GET', url, as: STRANGER, apiKey })
      t.equal(res.statusCode, 403, url)
      t.equal(res.json().error_code, 162)
      t.ok(res.json().errors.authtoken)
    }
  })

  t.test('412 without an api_key or with an unknown one', async (t) => {
    for (const [apiKey, what] of [[undefined, 'missing'], ['blt0000000000000000', 'unknown']] as const)
      for (const [method, url] of [
        // Without api_key, GET /v3/stacks lists the caller's stacks instead.
        ...(apiKey ? ([['GET', '/v3/stacks']] as const) : []),
        ['GET', '/v3/roles'],
        ['POST', '/v3/stacks/share'],
        ['GET', '/v3/stacks/management_tokens'],
        ['GET', '/v3/audit-logs'],
      ] as const) {
        const res = await a.call({ method, url, as: OWNER, ...(apiKey ? { apiKey } : {}), ...(method === 'POST' ? { body: {} } : {}) })
        t.equal(res.statusCode, 412, `${what} ${method} ${url}`)
        t.equal(res.json().error_code, 109)
        t.ok(res.json().errors.api_key)
      }
  })

  t.test('unshare: removes a member; 404 for a non-member; never the owner', async (t) => {
    const gone = await unshare(ADMIN, CONTENT_MANAGER)
    t.equal(gone.statusCode, 200, gone.body)
    t.same(gone.json(), { notice: 'The stack has been successfully unshared.' })
    t.equal((await a.call({ method: 'GET', url: '/v3/stacks', as: CONTENT_MANAGER, apiKey })).statusCode, 403, 'no longer a member')
    const unknown = await unshare(OWNER, CONTENT_MANAGER)
    t.equal(unknown.statusCode, 404)
    t.equal(unknown.json().error_code, 141)
    const owner = await unshare(ADMIN, OWNER)
    t.equal(owner.statusCode, 422)
    t.ok(owner.json().errors.email)
    const bad = await unshare(OWNER, 'nope')
    t.equal(bad.statusCode, 422)
    t.ok(bad.json().errors.email)
  })

  t.test('transfer_ownership: owner only, to a member; the old owner becomes admin', async (t) => {
    const transfer = (by: string, to: unknown) =>
      a.call({ method: 'POST', url: '/v3/stacks/transfer_ownership', as: by, apiKey, body: { transfer_to: to } })
    const byAdmin = await transfer(ADMIN, DEVELOPER)
    t.equal(byAdmin.statusCode, 403)
    t.equal(byAdmin.json().error_code, 162)
    t.same(byAdmin.json().errors, { authtoken: ['is not the stack owner'] })
    const toStranger = await transfer(OWNER, STRANGER)
    t.equal(toStranger.statusCode, 404)
    t.equal(toStranger.json().error_code, 141)
    t.equal((await transfer(OWNER, OWNER)).statusCode, 422)
    t.equal((await transfer(OWNER, 7)).statusCode, 422)
    const ok = await transfer(OWNER, ' Dev@Example.com ')
    t.equal(ok.statusCode, 200, ok.body)
    t.same(ok.json(), { notice: 'Stack ownership transferred successfully.' })
    const stack = (await a.call({ method: 'GET', url: '/v3/stacks', as: DEVELOPER, apiKey })).json().stack
    t.not(stack.owner_uid, 'u-owner', 'the old owner is no longer named owner')
    t.same(await members(), [
      { email: ADMIN, roles: ['admin'] },
      { email: DEVELOPER, roles: ['owner'] },
      { email: OWNER, roles: ['admin'] },
    ])
    t.equal((await transfer(OWNER, ADMIN)).statusCode, 403, 'the old owner may no longer transfer')
    const tok = await a.call({ method: 'POST', url: '/v3/stacks/management_tokens', as: DEVELOPER, apiKey, body: { token: { name: 'new owner', scope: [{ module: 'entry', acl: { read: true } }] } } })
    t.equal(tok.statusCode, 201, 'the new owner manages tokens')
  })
})

/** Each maps onto `kate@example.com` under some Unicode mapping (NFC, NFKC or case folding). */
const LOOK_ALIKES = [
  ['Kelvin sign', '\u212Aate@example.com'],
  ['fullwidth k', '\uFF4Bate@example.com'],
  ['Kelvin sign, upper case', 'KATE@EXAMPLE.COM'.replace('K', '\u212A')],
  ['capital K with acute, decomposed', 'K\u0301ate@example.com'],
] as const
const KATE = 'kate@example.com'

t.test('share, unshare, transfer_ownership: an email is checked as typed, so a look-alike of a member is 422 and changes nothing', async (t) => {
  const a = await startApp(t, { clock: true })
  const apiKey = await a.createStack()
  await a.share(apiKey, OWNER, KATE, ['admin'])
  const before = await a.eventTypes(apiKey)
  const post = (path: string, body: unknown) => a.call({ method: 'POST', url: `/v3/stacks/${path}`, as: OWNER, apiKey, body })
  for (const [name, email] of LOOK_ALIKES) {
    for (const [path, body, field] of [
      ['share', { emails: [email], roles: { [KATE]: ['developer'] } }, 'emails'],
      ['share', { emails: [email], roles: { [email]: ['developer'] } }, 'emails'],
      ['share', { emails: [email], roles: { [email]: ['developer'] } }, `roles.${email}`],
      ['share', { emails: [KATE], roles: { [email]: ['developer'] } }, `roles.${email}`],
      ['unshare', { email }, 'email'],
      ['transfer_ownership', { transfer_to: email }, 'transfer_to'],
    ] as const) {
      const res = await post(path, body)
      t.equal(res.statusCode, 422, `${name}: ${path} ${JSON.stringify(body)}: ${res.body}`)
      t.equal(res.json().error_code, 119)
      t.match(res.json().errors[field], [/Unicode folds onto other letters/], `${name}: ${path} names ${field}`)
    }
  }
  t.same(await a.eventTypes(apiKey), before, 'no event appended')
  const members = (await a.call({ method: 'GET', url: '/v3/stacks/members', as: OWNER, apiKey })).json().members
  t.same(members, [{ email: KATE, roles: ['admin'] }, { email: OWNER, roles: ['owner'] }], 'kate keeps her roles; the owner stays owner')
  const shared = await post('share', { emails: [' Kate@Example.COM '], roles: { 'KATE@example.com': ['developer'] } })
  t.equal(shared.statusCode, 200, 'ASCII capitals and spaces are the same address')
  t.same(shared.json().shared_emails, [KATE])
})

t.test('GET /v3/stacks without api_key: every stack of the caller, with their role', async (t) => {
  const a = await startApp(t, { clock: true })
  const list = async (as: string) => {
    const res = await a.call({ method: 'GET', url: '/v3/stacks', as })
    t.equal(res.statusCode, 200, res.body)
    return (res.json() as { stacks: Array<Record<string, unknown>> }).stacks
  }
  t.same(await list(OWNER), [], 'no stacks yet')
  const first = await a.createStack(OWNER, 'First')
  a.clock?.advance(1000)
  const second = await a.createStack(ADMIN, 'Second')
  await a.share(first, OWNER, ADMIN, ['admin'])
  await a.share(first, OWNER, DEVELOPER, ['developer'])
  await a.share(second, ADMIN, DEVELOPER, ['content_manager', 'developer'])
  await a.share(second, ADMIN, CONTENT_MANAGER, ['content_manager'])

  const owned = await list(OWNER)
  t.same(owned, [
    {
      api_key: first,
      name: 'First',
      description: '',
      owner_uid: 'u-owner',
      master_locale: 'en-us',
      created_by: 'u-owner',
      updated_by: 'u-owner',
      created_at: START.toISOString(),
      updated_at: new Date(START.getTime() + 1000).toISOString(),
      role: 'owner',
    },
  ])
  const roleOf = async (as: string) => (await list(as)).map((s) => [s.name, s.role])
  t.same(await roleOf(ADMIN), [['First', 'admin'], ['Second', 'owner']], 'oldest first, own role in each')
  t.same(await roleOf(DEVELOPER), [['First', 'developer'], ['Second', 'developer']], 'the role that allows the most')
  t.same(await roleOf(CONTENT_MANAGER), [['Second', 'content_manager']])
  t.same(await roleOf(STRANGER), [], 'a stranger sees none')

  // Membership changes show at once.
  t.equal((await a.call({ method: 'POST', url: '/v3/stacks/transfer_ownership', as: ADMIN, apiKey: second, body: { transfer_to: CONTENT_MANAGER } })).statusCode, 200)
  t.same(await roleOf(CONTENT_MANAGER), [['Second', 'owner']], 'the new owner')
  t.same(await roleOf(ADMIN), [['First', 'admin'], ['Second', 'admin']], 'the old owner becomes admin')
  t.equal((await a.call({ method: 'POST', url: '/v3/stacks/unshare', as: OWNER, apiKey: first, body: { email: DEVELOPER } })).statusCode, 200)
  t.same(await roleOf(DEVELOPER), [['Second', 'developer']], 'unshared: gone from the list')

  const anon = await a.call({ method: 'GET', url: '/v3/stacks' })
  t.equal(anon.statusCode, 401, 'an authtoken is required')
  t.same(anon.json().errors, { authtoken: ['is required'] })
})

t.test("GET /v3/stacks with api_key: the caller's role and the plan's limits", async (t) => {
  const a = await startApp(t, { config: { planReadLimit: 7, planWriteLimit: 3, maxTokensPerStack: 12 } })
  const apiKey = await a.createStack()
  await a.share(apiKey, OWNER, ADMIN, ['admin'])
  await a.share(apiKey, OWNER, DEVELOPER, ['developer'])
  await a.share(apiKey, OWNER, CONTENT_MANAGER, ['content_manager'])
  for (const [as, role] of [[OWNER, 'owner'], [ADMIN, 'admin'], [DEVELOPER, 'developer'], [CONTENT_MANAGER, 'content_manager']] as const) {
    const res = await a.call({ method: 'GET', url: '/v3/stacks', as, apiKey })
    t.equal(res.statusCode, 200, res.body)
    t.match(res.json().stack, { api_key: apiKey, name: 'Stack', role, plan: { rate_limit: { read: 7, write: 3 }, max_tokens: 12 } }, as)
  }
  t.equal((await a.call({ method: 'GET', url: '/v3/stacks', as: STRANGER, apiKey })).statusCode, 403, 'not a member')
  t.equal((await a.call({ method: 'GET', url: '/v3/stacks', as: OWNER, headers: { api_key: '' } })).statusCode, 412, 'an empty api_key is not a listing')
})

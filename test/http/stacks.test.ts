import t from 'tap'
import { stackStream } from '../../src/eventstore/streams.js'
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
    owner_email: OWNER,
    master_locale: 'en-us',
    created_by: 'u-owner',
    created_by_email: OWNER,
    updated_by: 'u-owner',
    updated_by_email: OWNER,
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
  const revision = async (key: string) => (await a.service.store.readStream(stackStream(key))).at(-1)?.revision

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

  t.test('sharing a member or the owner again: 422 naming that email and the roles path; nothing appended for any email', async (t) => {
    const before = await revision(apiKey)
    for (const [again, roles, said] of [
      [DEVELOPER, ['developer'], /is already a member.*PUT \/v3\/stacks\/users\/roles/],
      [DEVELOPER, ['admin'], /is already a member.*PUT \/v3\/stacks\/users\/roles/],
      [OWNER, ['admin'], /is the owner of this stack/],
    ] as const) {
      const res = await share(ADMIN, { emails: ['fresh@example.com', again], roles: { 'fresh@example.com': ['developer'], [again]: roles } })
      t.equal(res.statusCode, 422, res.body)
      t.equal(res.json().error_code, 119)
      t.match(res.json().error_message, new RegExp(`^${again} ${said.source}`))
      t.match(res.json().errors.emails, [new RegExp(`^${again} `)], 'errors point at the email')
    }
    t.equal(await revision(apiKey), before, 'the stream revision is unchanged')
    t.notOk((await members()).some((m: { email: string }) => m.email === 'fresh@example.com'), 'the new email was not shared either')
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
    t.equal(stack.owner_email, DEVELOPER, 'the stack names its new owner by email')
    t.match(stack, { updated_by: 'u-owner', updated_by_email: OWNER }, 'and who changed it last, by uid and email')
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

t.test("PUT /v3/stacks/users/roles: the owner or an admin changes members' roles", async (t) => {
  const a = await startApp(t, { clock: true })
  const apiKey = await a.createStack()
  await a.share(apiKey, OWNER, ADMIN, ['admin'])
  await a.share(apiKey, OWNER, DEVELOPER, ['developer'])
  await a.share(apiKey, OWNER, CONTENT_MANAGER, ['content_manager'])
  const roles = (as: string, body: unknown, method: 'PUT' | 'POST' = 'PUT') => a.call({ method, url: '/v3/stacks/users/roles', as, apiKey, body })
  const revision = async () => (await a.service.store.readStream(stackStream(apiKey))).at(-1)?.revision
  const members = async () => (await a.call({ method: 'GET', url: '/v3/stacks/members', as: OWNER, apiKey })).json().members

  t.test('changes only what changed: one MemberRoleChanged per member', async (t) => {
    const before = await a.eventTypes(apiKey)
    const res = await roles(ADMIN, { users: { [DEVELOPER]: ['admin', 'developer'], [CONTENT_MANAGER]: ['content_manager'] } })
    t.equal(res.statusCode, 200, res.body)
    t.same(res.json(), {
      notice: 'The roles have been successfully updated.',
      users: { [DEVELOPER]: ['admin', 'developer'], [CONTENT_MANAGER]: ['content_manager'] },
    })
    t.same(await a.eventTypes(apiKey), [...before, 'MemberRoleChanged'])
    const last = (await a.service.store.readStream(stackStream(apiKey))).at(-1)
    t.same(last?.data, { api_key: apiKey, email: DEVELOPER, roles: ['admin', 'developer'] })
    t.match(await members(), [{ email: ADMIN }, { email: CONTENT_MANAGER, roles: ['content_manager'] }, { email: DEVELOPER, roles: ['admin', 'developer'] }, { email: OWNER }])
    const promoted = await a.call({ method: 'GET', url: '/v3/stacks', as: DEVELOPER, apiKey })
    t.equal(promoted.json().stack.role, 'admin', 'effective from the next request')
    const again = await revision()
    t.equal((await roles(OWNER, { users: { [DEVELOPER]: ['developer', 'admin'] } })).statusCode, 200, 'the same roles again')
    t.equal(await revision(), again, 'nothing appended when nothing changes')
  })

  t.test('POST, as the CMA SDK sends it, does the same', async (t) => {
    const res = await roles(OWNER, { users: { [DEVELOPER]: ['developer'] } }, 'POST')
    t.equal(res.statusCode, 200, res.body)
    t.same(res.json().users, { [DEVELOPER]: ['developer'] })
  })

  t.test('refusals: status, error_code, the field at fault; nothing appended', async (t) => {
    const before = await revision()
    for (const [as, body, status, code, field] of [
      [ADMIN, { users: { [OWNER]: ['developer'] } }, 422, 119, `users.${OWNER}`],
      [OWNER, { users: { [OWNER]: ['admin'] } }, 422, 119, `users.${OWNER}`],
      [OWNER, { users: { [DEVELOPER]: ['admin'], [STRANGER]: ['admin'] } }, 404, 141, `users.${STRANGER}`],
      [OWNER, { users: { [DEVELOPER]: ['superuser'] } }, 422, 119, `users.${DEVELOPER}`],
      [OWNER, { users: { [DEVELOPER]: [] } }, 422, 119, `users.${DEVELOPER}`],
      [OWNER, { users: { [DEVELOPER]: 'admin' } }, 422, 119, `users.${DEVELOPER}`],
      [OWNER, { users: { 'not-an-email': ['admin'] } }, 422, 119, 'users.not-an-email'],
      [OWNER, { users: {} }, 422, 119, 'users'],
      [OWNER, { users: [DEVELOPER] }, 422, 119, 'users'],
      [OWNER, {}, 422, 119, 'users'],
      [DEVELOPER, { users: { [DEVELOPER]: ['admin'] } }, 403, 162, 'authtoken'],
      [CONTENT_MANAGER, { users: { [DEVELOPER]: ['admin'] } }, 403, 162, 'authtoken'],
      [STRANGER, { users: { [DEVELOPER]: ['admin'] } }, 403, 162, 'authtoken'],
    ] as const) {
      const res = await roles(as, body)
      t.equal(res.statusCode, status, `${as} ${JSON.stringify(body)}: ${res.body}`)
      t.equal(res.json().error_code, code)
      t.ok(res.json().errors[field], `names ${field}: ${res.body}`)
    }
    const unknown = await roles(OWNER, { users: { [STRANGER]: ['admin'] } })
    t.match(unknown.json().error_message, STRANGER, 'the 404 names the email')
    t.equal(await revision(), before, 'the stream revision is unchanged')
    const noStack = await a.call({ method: 'PUT', url: '/v3/stacks/users/roles', as: OWNER, body: { users: { [DEVELOPER]: ['admin'] } } })
    t.equal(noStack.statusCode, 412)
  })

  t.test('listed in the audit log as stack / update_role, its uid the email', async (t) => {
    const res = await a.call({ method: 'GET', url: '/v3/audit-logs?event_type=update_role', as: OWNER, apiKey })
    t.equal(res.statusCode, 200, res.body)
    const logs = res.json().logs as Array<{ module: string; event_type: string; metadata: { uid: string } }>
    t.same(
      logs.map((l) => [l.module, l.event_type, l.metadata.uid]),
      [['stack', 'update_role', DEVELOPER], ['stack', 'update_role', DEVELOPER]],
    )
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
  const again = await post('share', { emails: [' Kate@Example.COM '], roles: { 'KATE@example.com': ['developer'] } })
  t.equal(again.statusCode, 422, 'ASCII capitals and spaces are the same address: kate is already a member')
  t.match(again.json().errors.emails, [/^kate@example\.com is already a member/])
  const changed = await a.call({ method: 'PUT', url: '/v3/stacks/users/roles', as: OWNER, apiKey, body: { users: { ' Kate@Example.COM ': ['developer'] } } })
  t.same(changed.json().users, { [KATE]: ['developer'] }, 'and the same address to the roles path')
  for (const [name, email] of LOOK_ALIKES) {
    const res = await a.call({ method: 'PUT', url: '/v3/stacks/users/roles', as: OWNER, apiKey, body: { users: { [email]: ['admin'] } } })
    t.equal(res.statusCode, 422, `${name}: roles`)
    t.match(res.json().errors[`users.${email}`], [/Unicode folds onto other letters/])
  }
  t.same(await a.eventTypes(apiKey), [...before, 'MemberRoleChanged'], 'only the one role change appended')
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
      owner_email: OWNER,
      master_locale: 'en-us',
      created_by: 'u-owner',
      created_by_email: OWNER,
      updated_by: 'u-owner',
      updated_by_email: OWNER,
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

import type { AddressInfo } from 'node:net'
import * as sdk from '@contentstack/management'
import t from 'tap'
import { ADMIN, DEVELOPER, OWNER, STRANGER, startApp } from '../support/app.js'

// The SDK is a CommonJS bundle: from ESM its exports arrive as the namespace's default. Its
// declarations demand fields the API does not (master_locale, description): the test drives it
// untyped, exactly as a JavaScript caller would.
type Untyped = any
const contentstack: { client(options: Record<string, unknown>): Untyped } =
  (sdk as unknown as { default?: Untyped }).default ?? sdk

/** What the SDK throws for an HTTP error (core/contentstackError.js). */
interface SdkError {
  status: number
  errorCode: number
  errorMessage: string
  errors: Record<string, string[]>
}

const rejection = async (p: Promise<unknown>): Promise<SdkError> => {
  try {
    await p
  } catch (e) {
    return e as SdkError
  }
  throw new Error('expected the SDK call to fail')
}

t.test('the official @contentstack/management SDK drives the service unchanged', async (t) => {
  // Behind a proxy on the loopback, which reports the client's address (the allow-list's and the last use's).
  const a = await startApp(t, { config: { trustProxy: ['loopback'] } })
  await a.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = a.app.server.address() as AddressInfo
  const clientFor = (email: string) =>
    contentstack.client({
      endpoint: `http://127.0.0.1:${port}/v3`,
      authtoken: a.authtoken(email),
      retryOnError: false,
      retryOnHttpServerError: false,
      logHandler: () => undefined,
    })
  const owner = clientFor(OWNER)

  // 5.1: create a stack (the caller becomes its owner), read it back, share it.
  const created = await owner.stack().create({ stack: { name: 'SDK stack', description: 'made by the SDK' } })
  t.match(created.api_key, /^blt[0-9a-f]{16}$/)
  t.equal(created.name, 'SDK stack')
  const stack = owner.stack({ api_key: created.api_key })
  const fetched = await stack.fetch()
  t.equal(fetched.name, 'SDK stack')
  t.equal(fetched.owner_uid, 'u-owner')
  t.equal(fetched.owner_email, OWNER, 'the stack names its owner by email too')
  const shared = await stack.share([ADMIN, DEVELOPER], { [ADMIN]: ['admin'], [DEVELOPER]: ['developer'] })
  t.same(shared.shared_emails, [ADMIN, DEVELOPER])
  t.match(shared.notice, /shared/)
  const roles = await stack.role().fetchAll()
  t.same(roles.items.map((r: { uid: string }) => r.uid), ['admin', 'developer', 'content_manager'])

  // 5.2: create, list, query by name, fetch, update (the SDK echoes every field), delete.
  const adminStack = clientFor(ADMIN).stack({ api_key: created.api_key })
  const token = await adminStack.managementToken().create({
    token: {
      name: 'Deploy',
      description: 'CI deploys',
      scope: [
        { module: 'content_type', acl: { read: true, write: true } },
        { module: 'branch', branches: ['main'], acl: { read: true } },
      ],
      expires_on: '2099-01-01',
      is_email_notification_enabled: false,
      allowed_ips: ['10.0.0.0/8', '2001:DB8::/32'],
    },
  })
  t.match(token.uid, /^blt[0-9a-f]{16}$/)
  t.match(token.token, /^cs[0-9a-f]{32,}$/, 'the secret, once')
  t.equal(token.expires_on, '2099-01-01T00:00:00.000Z')
  t.same(token.allowed_ips, ['10.0.0.0/8', '2001:db8::/32'], 'the allow-list, canonical, passed through by the SDK')
  await adminStack.managementToken().create({ token: { name: 'Other', scope: [{ module: 'entry', acl: { read: true } }] } })

  const list = await stack.managementToken().query().find()
  t.same(list.items.map((x: { name: string }) => x.name).sort(), ['Deploy', 'Other'])
  t.notOk(list.items.some((x: { token?: unknown }) => typeof x.token === 'string'), 'no secret in a list')
  const byName = await stack.managementToken().query({ query: { name: 'Deploy' } }).find()
  t.same(byName.items.map((x: { uid: string }) => x.uid), [token.uid], 'query by name')

  const one = await stack.managementToken(token.uid).fetch()
  t.equal(one.uid, token.uid)
  t.equal(one.name, 'Deploy')
  t.equal(one.token, undefined, 'no secret on fetch')
  t.same(one.allowed_ips, ['10.0.0.0/8', '2001:db8::/32'])
  t.same([one.last_used_at, one.last_used_from, one.previous_secret_last_used_at], [null, null, null], 'never used')
  const used = await fetch(`http://127.0.0.1:${port}/v3/authorize`, {
    headers: { api_key: created.api_key, authorization: token.token, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v3/content_types', 'x-forwarded-for': '10.0.4.7' },
  })
  t.equal(used.status, 200)
  await a.service.usage.flush()
  const seen = await stack.managementToken(token.uid).fetch()
  t.type(seen.last_used_at, 'string', 'the SDK object carries the last use')
  t.equal(seen.last_used_from, '10.0.4.7', 'from the client the proxy reported, inside the allow-list')

  const before = await a.eventTypes(created.api_key)
  one.name = 'Deploy v2'
  const updated = await one.update()
  t.equal(updated.name, 'Deploy v2')
  t.equal(updated.uid, token.uid)
  t.same((await a.eventTypes(created.api_key)).slice(before.length), ['TokenRenamed'], 'one event: only the name changed')
  const unchanged = await (await stack.managementToken(token.uid).fetch()).update()
  t.equal(unchanged.name, 'Deploy v2')
  t.equal((await a.eventTypes(created.api_key)).length, before.length + 1, 'fetch then update with no change appends nothing')

  // The audit log through the SDK (5.4), read before and after the delete.
  const deleted = await stack.managementToken(token.uid).delete()
  t.match(deleted, { notice: 'Management Token deleted successfully.', propagation: { instances: 1, confirmed: 1 } })
  const gone = await rejection(stack.managementToken(token.uid).fetch())
  t.equal(gone.status, 404)
  t.equal(gone.errorCode, 141)

  const logs = await stack.auditLog().fetchAll({ limit: 3 })
  t.equal(logs.count, 7)
  t.same(
    logs.items.map((l: { module: string; event_type: string }) => `${l.module}:${l.event_type}`),
    ['management_token:delete', 'management_token:update', 'management_token:create'],
  )
  const entry = await stack.auditLog(logs.items[0].uid).fetch()
  t.match(entry.log, { uid: logs.items[0].uid, metadata: { uid: token.uid }, created_by: 'u-owner' })
  const filtered = await stack.auditLog().fetchAll({ module: 'stack' })
  t.same(filtered.items.map((l: { event_type: string }) => l.event_type), ['share', 'share', 'create'])

  // 5.5 through the SDK.
  const invalid = await rejection(
    stack.managementToken().create({ token: { name: 'bad', scope: [{ module: 'spaceship', acl: { read: true } }] } }),
  )
  t.equal(invalid.status, 422)
  t.equal(invalid.errorCode, 119)
  t.match(invalid.errors['token.scope[0].module'], [/spaceship/])
  t.match(invalid.errorMessage, /spaceship/)

  const writeOnly = await rejection(
    stack.managementToken().create({ token: { name: 'bad', scope: [{ module: 'entry', acl: { read: false, write: true } }] } }),
  )
  t.equal(writeOnly.errorCode, 119)
  t.ok(writeOnly.errors['token.scope[0].acl'])

  const unknownToken = await rejection(stack.managementToken('blt0000000000000000').fetch())
  t.equal(unknownToken.status, 404)
  t.equal(unknownToken.errorCode, 141)

  const noStack = await rejection(owner.stack({ api_key: 'blt0000000000000000' }).managementToken().query().find())
  t.equal(noStack.status, 412)
  t.equal(noStack.errorCode, 109)
  t.ok(noStack.errors.api_key)

  const developerStack = clientFor(DEVELOPER).stack({ api_key: created.api_key })
  const denied = await rejection(developerStack.managementToken().query().find())
  t.equal(denied.status, 403)
  t.equal(denied.errorCode, 162)
  const deniedLogs = await rejection(developerStack.auditLog().fetchAll())
  t.equal(deniedLogs.status, 403)

  const stranger = await rejection(clientFor(STRANGER).stack({ api_key: created.api_key }).fetch())
  t.equal(stranger.status, 403)
  t.equal(stranger.errorCode, 162)

  const badAuth = contentstack.client({
    endpoint: `http://127.0.0.1:${port}/v3`,
    authtoken: 'not-a-jwt',
    retryOnError: false,
    logHandler: () => undefined,
  } as Parameters<typeof contentstack.client>[0])
  const unauthorized = await rejection(badAuth.stack({ api_key: created.api_key }).managementToken().query().find())
  t.equal(unauthorized.status, 401)
  t.equal(unauthorized.errorCode, 105)

  // Membership and ownership through the SDK.
  const promoted = await stack.updateUsersRoles({ [DEVELOPER]: ['admin'] })
  t.same(promoted, { notice: 'The roles have been successfully updated.', users: { [DEVELOPER]: ['admin'] } }, 'updateUsersRoles (which POSTs)')
  t.equal((await developerStack.managementToken().query().find()).items.length, 1, 'the promoted developer manages tokens')
  const ownerRoles = await rejection(stack.updateUsersRoles({ [OWNER]: ['developer'] }))
  t.equal(ownerRoles.status, 422)
  t.ok(ownerRoles.errors[`users.${OWNER}`], "never the owner's roles")
  const unshared = await stack.unShare(DEVELOPER)
  t.match(unshared.notice, /unshared/)
  const transferred = await stack.transferOwnership(ADMIN)
  t.match(transferred.notice, /transferred/)
  const notOwner = await rejection(stack.transferOwnership(ADMIN))
  t.equal(notOwner.status, 403, 'the former owner may not transfer again')
})

t.test("development sign-in is the SDK's login: client.login() then calls with its authtoken", async (t) => {
  const a = await startApp(t, { config: { jwtSecret: undefined, devSignIn: true } })
  await a.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = a.app.server.address() as AddressInfo
  const client = contentstack.client({
    endpoint: `http://127.0.0.1:${port}/v3`,
    retryOnError: false,
    retryOnHttpServerError: false,
    logHandler: () => undefined,
  })
  const login = await client.login({ email: OWNER, password: 'ignored in development' })
  t.equal(login.notice, 'Login Successful.')
  t.equal(login.user.email, OWNER)
  const created = await client.stack().create({ stack: { name: 'From the SDK login', master_locale: 'en-us' } })
  t.equal(created.name, 'From the SDK login', 'the SDK uses the authtoken the login returned')
  const all = await client.stack().query().find()
  t.same(all.items.map((s: { name: string }) => s.name), ['From the SDK login'], "and lists the caller's stacks (GET /v3/stacks without api_key)")
})

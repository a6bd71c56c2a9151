import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import t from 'tap'
import type { Actor } from '../../src/domain/commands.js'
import type { DomainEvent } from '../../src/domain/events.js'
import { DomainEvent as DomainEventCodec, EVENT_TYPES } from '../../src/domain/events.js'
import { normaliseExpiry } from '../../src/domain/rules.js'
import { evolve, fold, liveTokens } from '../../src/domain/state.js'
import { admin, API_KEY, created, developer, given, owner, POLICY, shared, stackWithTeam, stranger, tokenGenerated } from '../support/decider-spec.js'

const roles = (actor: Actor, users: Array<{ email: string; roles: string[] }>) => ({ type: 'ChangeRoles' as const, actor, users })
const roleChanged = (email: string, roles: string[]): DomainEvent => ({ type: 'MemberRoleChanged', data: { api_key: API_KEY, email, roles } })
const share = (actor = owner, members = [{ email: 'new@example.com', roles: ['developer'] }]) => ({ type: 'ShareStack' as const, actor, members })

t.test('CreateStack', async (t) => {
  t.test('on a fresh stream > StackCreated owned by the caller', async (t) => {
    given(t, []).when({ type: 'CreateStack', actor: owner, api_key: API_KEY, name: ' Site ', description: '' }).then([created])
  })
  t.test('twice > stack-exists', async (t) => {
    given(t, [created]).when({ type: 'CreateStack', actor: owner, api_key: API_KEY, name: 'Site', description: '' }).thenError('stack-exists')
  })
  t.test('by a user who created maxStacksPerUser stacks > stack-limit-reached on stack; below it, or uncounted, allowed', async (t) => {
    const create = { type: 'CreateStack' as const, actor: owner, api_key: API_KEY, name: 'Site', description: '' }
    const policy = { ...POLICY, maxStacksPerUser: 2 }
    given(t, [], { policy, stacksCreated: 2 }).when(create).thenError('stack-limit-reached', 'stack')
    given(t, [], { policy, stacksCreated: 1 }).when(create).then([created])
    given(t, [], { policy }).when(create).then([created])
    given(t, [created], { policy, stacksCreated: 2 }).when(create).thenError('stack-exists')
  })
  t.test('without a name > validation on name', async (t) => {
    given(t, []).when({ type: 'CreateStack', actor: owner, api_key: API_KEY, name: '', description: '' }).thenError('validation', 'name')
    given(t, []).when({ type: 'CreateStack', actor: owner, api_key: API_KEY, name: 'n', description: 'd'.repeat(1001) }).thenError('validation', 'description')
  })
  t.test('a control or bidi character in the name or description > validation on that field', async (t) => {
    given(t, []).when({ type: 'CreateStack', actor: owner, api_key: API_KEY, name: 'Site\u0007', description: '' }).thenError('validation', 'name')
    given(t, []).when({ type: 'CreateStack', actor: owner, api_key: API_KEY, name: 'Site', description: 'a\u2066b' }).thenError('validation', 'description')
  })
})

t.test('ShareStack', async (t) => {
  t.test('by the owner > MemberShared per new member', async (t) => {
    given(t, [created]).when(share()).then([shared('new@example.com', ['developer'])])
  })
  t.test('by an admin > allowed; by a developer or stranger > forbidden', async (t) => {
    given(t, stackWithTeam).when(share(admin)).then([shared('new@example.com', ['developer'])])
    given(t, stackWithTeam).when(share(developer)).thenError('forbidden')
    given(t, stackWithTeam).when(share(stranger)).thenError('forbidden')
  })
  t.test('a member or the owner again, with any roles > validation on emails naming them, nothing for the others', async (t) => {
    for (const roles of [['developer'], ['admin']]) {
      const again = given(t, stackWithTeam).when(share(owner, [{ email: 'new@example.com', roles }, { email: developer.email, roles }]))
      again.thenError('validation', 'emails')
      const e = E.isLeft(again.result) ? again.result.left : undefined
      t.match(e?.message, `${developer.email} is already a member`)
      t.match(e?.message, 'PUT /v3/stacks/users/roles')
      t.match(e?.errors?.emails, [new RegExp(`^${developer.email} .*PUT /v3/stacks/users/roles`)])
    }
    const theOwner = given(t, stackWithTeam).when(share(admin, [{ email: owner.email, roles: ['admin'] }]))
    theOwner.thenError('validation', 'emails')
    t.match(E.isLeft(theOwner.result) ? theOwner.result.left.errors?.emails : [], [new RegExp(`^${owner.email} is the owner`)])
  })
  t.test('bad input > validation naming the field', async (t) => {
    given(t, [created]).when(share(owner, [])).thenError('validation', 'emails')
    given(t, [created]).when(share(owner, [{ email: 'not-an-email', roles: ['admin'] }])).thenError('validation', 'emails')
    given(t, [created]).when(share(owner, [{ email: 'a@b.co', roles: ['god'] }])).thenError('validation', 'roles.a@b.co')
    given(t, [created]).when(share(owner, [{ email: 'a@b.co', roles: [] }])).thenError('validation', 'roles.a@b.co')
    given(t, [created]).when(share(owner, [{ email: owner.email, roles: ['admin'] }])).thenError('validation', 'emails')
  })
  t.test('on an unknown stack > stack-not-found', async (t) => {
    given(t, []).when(share()).thenError('stack-not-found')
  })
  t.test('more emails than maxEmailsPerShare > validation on emails; as many > allowed', async (t) => {
    const policy = { ...POLICY, maxEmailsPerShare: 2 }
    const three = ['a', 'b', 'c'].map((n) => ({ email: `${n}@example.com`, roles: ['developer'] }))
    given(t, [created], { policy }).when(share(owner, three)).thenError('validation', 'emails')
    given(t, [created], { policy }).when(share(owner, three.slice(0, 2))).then(three.slice(0, 2).map((m) => shared(m.email, m.roles)))
  })
  t.test('beyond maxMembersPerStack (the owner counted) > member-limit-reached on emails; new roles for members stay allowed', async (t) => {
    // stackWithTeam: the owner, an admin and a developer.
    const policy = { ...POLICY, maxMembersPerStack: 4 }
    const one = [{ email: 'new@example.com', roles: ['developer'] }]
    const two = [...one, { email: 'also@example.com', roles: ['developer'] }]
    given(t, stackWithTeam, { policy }).when(share(owner, one)).then([shared('new@example.com', ['developer'])])
    given(t, stackWithTeam, { policy }).when(share(owner, two)).thenError('member-limit-reached', 'emails')
    given(t, stackWithTeam, { policy }).when(share(owner, [...one, ...one])).then([shared('new@example.com', ['developer']), shared('new@example.com', ['developer'])])
    const lowered = { ...POLICY, maxMembersPerStack: 2 }
    given(t, stackWithTeam, { policy: lowered }).when(roles(owner, [{ email: developer.email, roles: ['admin'] }])).then([roleChanged(developer.email, ['admin'])])
    given(t, stackWithTeam, { policy: lowered }).when(share(owner, one)).thenError('member-limit-reached', 'emails')
  })
})

t.test('ChangeRoles', async (t) => {
  t.test('by the owner or an admin > MemberRoleChanged per member whose roles change, roles once each', async (t) => {
    given(t, stackWithTeam).when(roles(owner, [{ email: developer.email, roles: ['admin', 'developer', 'admin'] }])).then([roleChanged(developer.email, ['admin', 'developer'])])
    given(t, stackWithTeam)
      .when(roles(admin, [{ email: developer.email, roles: ['content_manager'] }, { email: admin.email, roles: ['admin'] }]))
      .then([roleChanged(developer.email, ['content_manager'])])
  })
  t.test('the same roles, in any order > no event', async (t) => {
    const both = [...stackWithTeam, roleChanged(developer.email, ['developer', 'content_manager'])]
    given(t, both).when(roles(owner, [{ email: developer.email, roles: ['content_manager', 'developer'] }])).then([])
  })
  t.test('then the state holds the new roles: a demoted admin may no longer manage', async (t) => {
    const demoted = [...stackWithTeam, roleChanged(admin.email, ['developer'])]
    given(t, demoted).when(share(admin)).thenError('forbidden')
    given(t, [...demoted, roleChanged(developer.email, ['admin'])]).when(share(developer)).then([shared('new@example.com', ['developer'])])
  })
  t.test("the owner's roles > validation naming users.<owner>", async (t) => {
    given(t, stackWithTeam).when(roles(admin, [{ email: owner.email, roles: ['developer'] }])).thenError('validation', `users.${owner.email}`)
    given(t, stackWithTeam).when(roles(owner, [{ email: owner.email, roles: ['admin'] }])).thenError('validation', `users.${owner.email}`)
  })
  t.test('a non-member > member-not-found naming users.<email>; nothing for the others', async (t) => {
    const r = given(t, stackWithTeam).when(roles(owner, [{ email: developer.email, roles: ['admin'] }, { email: stranger.email, roles: ['admin'] }]))
    r.thenError('member-not-found', `users.${stranger.email}`)
    t.match(E.isLeft(r.result) ? r.result.left.message : '', stranger.email)
  })
  t.test('bad input > validation naming the field', async (t) => {
    given(t, stackWithTeam).when(roles(owner, [])).thenError('validation', 'users')
    given(t, stackWithTeam).when(roles(owner, [{ email: developer.email, roles: ['god'] }])).thenError('validation', `users.${developer.email}`)
    given(t, stackWithTeam).when(roles(owner, [{ email: developer.email, roles: [] }])).thenError('validation', `users.${developer.email}`)
    given(t, stackWithTeam).when(roles(owner, [{ email: 'not-an-email', roles: ['admin'] }])).thenError('validation', 'users.not-an-email')
    const twice = [{ email: developer.email, roles: ['admin'] }, { email: developer.email.toUpperCase(), roles: ['developer'] }]
    given(t, stackWithTeam).when(roles(owner, twice)).thenError('validation', `users.${developer.email}`)
    const policy = { ...POLICY, maxEmailsPerShare: 1 }
    given(t, stackWithTeam, { policy }).when(roles(owner, [{ email: developer.email, roles: ['admin'] }, { email: admin.email, roles: ['developer'] }])).thenError('validation', 'users')
  })
  t.test('by a developer or stranger > forbidden; on an unknown stack > stack-not-found', async (t) => {
    given(t, stackWithTeam).when(roles(developer, [{ email: developer.email, roles: ['admin'] }])).thenError('forbidden', 'authtoken')
    given(t, stackWithTeam).when(roles(stranger, [{ email: developer.email, roles: ['admin'] }])).thenError('forbidden')
    given(t, []).when(roles(owner, [{ email: developer.email, roles: ['admin'] }])).thenError('stack-not-found')
  })
})

t.test('UnshareStack', async (t) => {
  const unshare = (email: string, actor = owner) => ({ type: 'UnshareStack' as const, actor, email })
  t.test('a member > MemberUnshared', async (t) => {
    given(t, stackWithTeam).when(unshare(developer.email, admin)).then([{ type: 'MemberUnshared', data: { api_key: API_KEY, email: developer.email } }])
  })
  t.test('the owner > validation; a non-member > member-not-found; a developer acting > forbidden', async (t) => {
    given(t, stackWithTeam).when(unshare(owner.email, admin)).thenError('validation', 'email')
    given(t, stackWithTeam).when(unshare('ghost@example.com')).thenError('member-not-found')
    given(t, stackWithTeam).when(unshare(admin.email, developer)).thenError('forbidden')
    given(t, stackWithTeam).when(unshare('bad')).thenError('validation', 'email')
  })
})

t.test('TransferOwnership', async (t) => {
  const transfer = (to: string, actor = owner) => ({ type: 'TransferOwnership' as const, actor, to_email: to })
  t.test('to a member > OwnershipTransferred; the old owner becomes admin', async (t) => {
    const events: DomainEvent[] = [{ type: 'OwnershipTransferred', data: { api_key: API_KEY, from_email: owner.email, to_email: developer.email } }]
    given(t, stackWithTeam).when(transfer(developer.email)).then(events)
    const after = fold([...stackWithTeam, ...events])
    t.equal(after.status === 'active' && after.owner_email, developer.email)
    t.same(after.status === 'active' && after.members.get(owner.email), ['admin'])
    given(t, [...stackWithTeam, ...events]).when(transfer(admin.email)).thenError('forbidden') // the old owner no longer may
  })
  t.test('by an admin > forbidden (owner only)', async (t) => {
    given(t, stackWithTeam).when(transfer(developer.email, admin)).thenError('forbidden')
  })
  t.test('to a non-member > member-not-found; to the owner > validation', async (t) => {
    given(t, stackWithTeam).when(transfer('ghost@example.com')).thenError('member-not-found')
    given(t, stackWithTeam).when(transfer(owner.email)).thenError('validation', 'transfer_to')
    given(t, stackWithTeam).when(transfer('nope')).thenError('validation', 'transfer_to')
    given(t, []).when(transfer(developer.email)).thenError('stack-not-found')
  })
})

t.test('evolve', async (t) => {
  t.test('ignores events before StackCreated and about unknown tokens', async (t) => {
    t.same(fold([shared('a@b.co', ['admin'])]), { status: 'absent' })
    const s = fold([created, { type: 'TokenRevoked', data: { api_key: API_KEY, token_uid: 'nope' } }])
    t.equal(s.status === 'active' && s.tokens.size, 0)
    t.same(liveTokens(fold([])), [])
  })
  t.test('evolve leaves its state as it was; fold leaves the state it starts from', async (t) => {
    const before = fold([created])
    const after = evolve(before, shared('a@b.co', ['admin']))
    t.equal(before.status === 'active' && before.members.size, 1, 'evolve copied')
    t.equal(after.status === 'active' && after.members.size, 2)
    const more = fold([shared('c@d.co', ['admin']), { type: 'OwnershipTransferred', data: { api_key: API_KEY, from_email: owner.email, to_email: 'c@d.co' } }], after)
    t.equal(after.status === 'active' && after.members.size, 2, 'fold copied')
    t.equal(after.status === 'active' && after.owner_email, owner.email)
    t.equal(more.status === 'active' && more.owner_email, 'c@d.co')
  })
  t.test('tracks every token event', async (t) => {
    const s = fold([
      created,
      tokenGenerated('a'),
      { type: 'TokenRenamed', data: { api_key: API_KEY, token_uid: 'a', name: 'n', description: 'd' } },
      { type: 'TokenScopeChanged', data: { api_key: API_KEY, token_uid: 'a', scope: [{ module: '$all', acl: { read: true, write: true } }] } },
      { type: 'TokenExpiryChanged', data: { api_key: API_KEY, token_uid: 'a', expires_on: '2030-01-01T00:00:00.000Z' } },
      { type: 'TokenLimitsChanged', data: { api_key: API_KEY, token_uid: 'a', rate_limit: { read: 1, write: 1 } } },
      { type: 'TokenNotificationChanged', data: { api_key: API_KEY, token_uid: 'a', is_email_notification_enabled: true } },
      { type: 'TokenRotated', data: { api_key: API_KEY, token_uid: 'a', secret_hash: 'h2', previous_secret_hash: 'hash-a', previous_expires_at: '2026-01-01T00:00:00.000Z' } },
    ])
    t.match(s.status === 'active' && s.tokens.get('a'), {
      name: 'n',
      description: 'd',
      scope: [{ module: '$all' }],
      expires_on: '2030-01-01T00:00:00.000Z',
      rate_limit: { read: 1, write: 1 },
      is_email_notification_enabled: true,
      secret_hash: 'h2',
      revoked: false,
    })
  })
})

t.test('the event catalogue covers every stack, membership and token change', async (t) => {
  for (const type of ['StackCreated', 'MemberShared', 'MemberUnshared', 'MemberRoleChanged', 'OwnershipTransferred', 'TokenGenerated', 'TokenRenamed', 'TokenScopeChanged', 'TokenExpiryChanged', 'TokenLimitsChanged', 'TokenRotated', 'TokenRevoked'])
    t.ok(EVENT_TYPES.includes(type as never), type)
  t.notOk(DomainEventCodec.is({ type: 'TokenGenerated', data: { api_key: 'x' } }), 'an incomplete event does not decode')
})

t.test('normaliseExpiry: every valid date is midnight UTC of that date', async (t) => {
  fc.assert(
    fc.property(fc.date({ min: new Date('2000-01-01'), max: new Date('2999-12-31'), noInvalidDate: true }), (d) => {
      const day = d.toISOString().slice(0, 10)
      const r = normaliseExpiry(day)
      return r._tag === 'Right' && r.right === `${day}T00:00:00.000Z`
    }),
  )
  t.pass('property held')
  t.match(normaliseExpiry('2026-13-01'), { _tag: 'Left' })
  t.match(normaliseExpiry('2026-03-01T10:00:00+02:00'), { _tag: 'Right', right: '2026-03-01T08:00:00.000Z' })
})

import t from 'tap'
import type { DomainEvent } from '../../src/domain/events.js'
import {
  admin,
  API_KEY,
  developer,
  generate,
  given,
  NOW,
  owner,
  POLICY,
  READ_ENTRY,
  stackWithTeam,
  stranger,
  tokenGenerated,
} from '../support/decider-spec.js'

const revoked = (uid: string): DomainEvent => ({ type: 'TokenRevoked', data: { api_key: API_KEY, token_uid: uid, reason: 'user' } })
const withToken = [...stackWithTeam, tokenGenerated('blt1', 'ci')]

t.test('GenerateToken', async (t) => {
  t.test('with allowed_ips > recorded canonical; an empty list is not recorded', async (t) => {
    given(t, stackWithTeam)
      .when(generate(owner, 'blt1', { allowed_ips: ['::FFFF:10.0.0.0/104', '2001:DB8::1'] }))
      .then([tokenGenerated('blt1', 'blt1', { allowed_ips: ['10.0.0.0/8', '2001:db8::1'] })])
    given(t, stackWithTeam).when(generate(owner, 'blt1', { allowed_ips: [] })).then([tokenGenerated('blt1')])
  })
  t.test('with a bad allowed_ips entry > validation naming it, no event', async (t) => {
    given(t, stackWithTeam).when(generate(owner, 'blt1', { allowed_ips: ['10.0.0.1', '10.0.0.0/33'] })).thenError('validation', 'allowed_ips[1]')
  })
  t.test('by the owner > TokenGenerated with the normalised fields', async (t) => {
    given(t, stackWithTeam)
      .when(generate(owner, 'blt1', { name: '  ci  ', expires_on: '2026-04-01', rate_limit: { read: 5, write: 2 } }))
      .then([tokenGenerated('blt1', 'ci', { expires_on: '2026-04-01T00:00:00.000Z', rate_limit: { read: 5, write: 2 } })])
  })
  t.test('by an admin > allowed', async (t) => {
    given(t, stackWithTeam).when(generate(admin, 'blt1')).then([tokenGenerated('blt1')])
  })
  t.test('by a developer > forbidden: only the owner or an admin manage tokens', async (t) => {
    given(t, stackWithTeam).when(generate(developer, 'blt1')).thenError('forbidden')
  })
  t.test('by a non-member > forbidden', async (t) => {
    given(t, stackWithTeam).when(generate(stranger, 'blt1')).thenError('forbidden')
  })
  t.test('on an unknown stack > stack-not-found', async (t) => {
    given(t, []).when(generate(owner, 'blt1')).thenError('stack-not-found')
  })
  t.test('by an admin who was unshared > forbidden', async (t) => {
    given(t, [...stackWithTeam, { type: 'MemberUnshared', data: { api_key: API_KEY, email: admin.email } }])
      .when(generate(admin, 'blt1'))
      .thenError('forbidden')
  })
  t.test('the 31st live token > token-limit-reached', async (t) => {
    const thirty = Array.from({ length: 30 }, (_, i) => tokenGenerated(`blt${i}`))
    given(t, [...stackWithTeam, ...thirty]).when(generate(owner, 'bltnew')).thenError('token-limit-reached')
  })
  t.test('revoked tokens do not count towards the limit', async (t) => {
    const thirty = Array.from({ length: 30 }, (_, i) => tokenGenerated(`blt${i}`))
    given(t, [...stackWithTeam, ...thirty, revoked('blt3')]).when(generate(owner, 'bltnew')).then([tokenGenerated('bltnew')])
  })
  t.test('the limit is configurable', async (t) => {
    given(t, [...stackWithTeam, tokenGenerated('a')], { policy: { ...POLICY, maxTokensPerStack: 1 } })
      .when(generate(owner, 'b'))
      .thenError('token-limit-reached')
  })
  t.test('a name taken by a live token > validation on name', async (t) => {
    given(t, withToken).when(generate(owner, 'blt2', { name: 'ci' })).thenError('validation', 'name')
  })
  t.test('a name of a revoked token > allowed', async (t) => {
    given(t, [...withToken, revoked('blt1')]).when(generate(owner, 'blt2', { name: 'ci' })).then([tokenGenerated('blt2', 'ci')])
  })
  t.test('an empty name > validation on name', async (t) => {
    given(t, stackWithTeam).when(generate(owner, 'blt1', { name: '   ' })).thenError('validation', 'name')
  })
  t.test('a control or bidi character in the name or description, even at an end trimming would drop > validation on that field', async (t) => {
    given(t, stackWithTeam).when(generate(owner, 'blt1', { name: 'ci\u001b[2J' })).thenError('validation', 'name')
    given(t, stackWithTeam).when(generate(owner, 'blt1', { name: 'ci\n' })).thenError('validation', 'name')
    given(t, stackWithTeam).when(generate(owner, 'blt1', { description: '\u202eevil' })).thenError('validation', 'description')
    given(t, withToken).when({ type: 'RenameToken', actor: owner, token_uid: 'blt1', name: 'c\u0085i' }).thenError('validation', 'name')
  })
  t.test('a too long description > validation on description', async (t) => {
    given(t, stackWithTeam).when(generate(owner, 'blt1', { description: 'x'.repeat(1001) })).thenError('validation', 'description')
  })
  t.test('a reused uid > validation on uid', async (t) => {
    given(t, withToken).when(generate(owner, 'blt1', { name: 'other' })).thenError('validation', 'uid')
  })
  t.test('scope rules: write needs read, known modules, audit_log read-only, branch lists only where enforced', async (t) => {
    const scope = (s: unknown) => generate(owner, 'blt1', { scope: s as typeof READ_ENTRY })
    given(t, stackWithTeam).when(scope([{ module: 'entry', acl: { read: false, write: true } }])).thenError('validation', 'scope[0].acl')
    given(t, stackWithTeam).when(scope([{ module: 'entry', acl: { read: false, write: false } }])).thenError('validation', 'scope[0].acl')
    given(t, stackWithTeam).when(scope([{ module: 'organization', acl: { read: true, write: false } }])).thenError('validation', 'scope[0].module')
    given(t, stackWithTeam).when(scope([{ module: 'audit_log', acl: { read: true, write: true } }])).thenError('validation', 'scope[0].acl')
    given(t, stackWithTeam).when(scope([{ module: 'branch', acl: { read: true, write: false } }])).thenError('validation', 'scope[0].branches')
    given(t, stackWithTeam)
      .when(scope([{ module: 'branch_alias', acl: { read: true, write: false }, branch_aliases: [] }]))
      .thenError('validation', 'scope[0].branch_aliases')
    given(t, stackWithTeam).when(scope([])).thenError('validation', 'scope')
    // A scope field is enforced on every surface or refused: branch lists are enforced only as the
    // token's branches, so elsewhere they are refused.
    given(t, stackWithTeam)
      .when(scope([{ module: 'entry', acl: { read: true, write: false }, branches: ['dev'] }]))
      .thenError('validation', 'scope[0].branches')
    given(t, stackWithTeam)
      .when(scope([{ module: 'asset', acl: { read: true, write: false }, branch_aliases: ['staging'] }]))
      .thenError('validation', 'scope[0].branch_aliases')
    given(t, stackWithTeam)
      .when(scope([{ module: 'branch', acl: { read: true, write: false }, branches: ['main'], branch_aliases: ['x'] }]))
      .thenError('validation', 'scope[0].branch_aliases')
    const ok = [
      { module: '$all', acl: { read: true, write: true } },
      { module: 'branch', acl: { read: true, write: true }, branches: ['main', 'dev'] },
      { module: 'audit_log', acl: { read: true, write: false } },
      { module: 'branch_alias', acl: { read: true, write: false }, branch_aliases: ['staging'] },
      { module: '$all', acl: { read: true, write: false }, branches: ['dev'], branch_aliases: ['prod'] },
    ]
    given(t, stackWithTeam).when(scope(ok)).then([tokenGenerated('blt1', 'blt1', { scope: ok })])
  })
  t.test('the error message names the unknown module', async (t) => {
    const r = given(t, stackWithTeam).when(generate(owner, 'b', { scope: [{ module: 'stacks', acl: { read: true, write: false } }] })).result
    t.match(r, { _tag: 'Left', left: { message: /stacks/ } })
  })
  t.test('expiry rules: a date or instant in the future, or null for never', async (t) => {
    const exp = (e: string | null) => generate(owner, 'blt1', { expires_on: e })
    given(t, stackWithTeam).when(exp('2026-03-01')).thenError('validation', 'expires_on') // today: not in the future
    given(t, stackWithTeam).when(exp('2026-02-28')).thenError('validation', 'expires_on')
    given(t, stackWithTeam).when(exp('2026-02-30')).thenError('validation', 'expires_on')
    given(t, stackWithTeam).when(exp('tomorrow')).thenError('validation', 'expires_on')
    given(t, stackWithTeam).when(exp(NOW.toISOString())).thenError('validation', 'expires_on')
    given(t, stackWithTeam)
      .when(exp('2026-03-01T13:00:00+01:00'))
      .thenError('validation', 'expires_on') // 12:00Z: the same instant as now
    given(t, stackWithTeam)
      .when(exp('2026-03-01T12:00:00.001Z'))
      .then([tokenGenerated('blt1', 'blt1', { expires_on: '2026-03-01T12:00:00.001Z' })])
    given(t, stackWithTeam).when(exp(null)).then([tokenGenerated('blt1')])
  })
  t.test('rate-limit rules: whole numbers from 1 up to the plan limit', async (t) => {
    const rl = (read: number, write: number) => generate(owner, 'blt1', { rate_limit: { read, write } })
    given(t, stackWithTeam).when(rl(11, 1)).thenError('validation', 'rate_limit.read')
    given(t, stackWithTeam).when(rl(1, 11)).thenError('validation', 'rate_limit.write')
    given(t, stackWithTeam).when(rl(0, 1)).thenError('validation', 'rate_limit.read')
    given(t, stackWithTeam).when(rl(1.5, 1)).thenError('validation', 'rate_limit.read')
    given(t, stackWithTeam).when(rl(10, 10)).then([tokenGenerated('blt1', 'blt1', { rate_limit: { read: 10, write: 10 } })])
    given(t, stackWithTeam, { policy: { ...POLICY, planReadLimit: 100 } })
      .when(rl(50, 1))
      .then([tokenGenerated('blt1', 'blt1', { rate_limit: { read: 50, write: 1 } })])
  })
})

t.test('UpdateToken: one event per changed field, none when nothing changed', async (t) => {
  const base = { type: 'UpdateToken' as const, actor: owner, token_uid: 'blt1' }
  t.test('nothing changed > no events', async (t) => {
    given(t, withToken)
      .when({ ...base, changes: { name: 'ci', description: '', scope: READ_ENTRY, expires_on: null, rate_limit: null, is_email_notification_enabled: false } })
      .then([])
  })
  t.test('every field changed > six events in a fixed order, each with the values it replaced', async (t) => {
    const scope = [{ module: 'asset', acl: { read: true, write: true } }]
    given(t, withToken)
      .when({
        ...base,
        changes: { name: 'deploy', description: 'd', scope, expires_on: '2027-01-01', rate_limit: { read: 3, write: 1 }, is_email_notification_enabled: true, allowed_ips: ['10.0.0.1/32'] },
      })
      .then([
        { type: 'TokenRenamed', data: { api_key: API_KEY, token_uid: 'blt1', name: 'deploy', description: 'd', before: { name: 'ci', description: '' } } },
        { type: 'TokenScopeChanged', data: { api_key: API_KEY, token_uid: 'blt1', scope, before: { scope: READ_ENTRY } } },
        { type: 'TokenExpiryChanged', data: { api_key: API_KEY, token_uid: 'blt1', expires_on: '2027-01-01T00:00:00.000Z', before: { expires_on: null } } },
        { type: 'TokenLimitsChanged', data: { api_key: API_KEY, token_uid: 'blt1', rate_limit: { read: 3, write: 1 }, before: { rate_limit: null } } },
        { type: 'TokenAllowedIpsChanged', data: { api_key: API_KEY, token_uid: 'blt1', allowed_ips: ['10.0.0.1'], before: { allowed_ips: [] } } },
        {
          type: 'TokenNotificationChanged',
          data: { api_key: API_KEY, token_uid: 'blt1', is_email_notification_enabled: true, before: { is_email_notification_enabled: false } },
        },
      ])
  })
  t.test('an unchanged past expiry echoed back > no event and no error', async (t) => {
    const past = [...stackWithTeam, tokenGenerated('blt1', 'ci', { expires_on: '2026-01-01T00:00:00.000Z' })]
    given(t, past).when({ ...base, changes: { expires_on: '2026-01-01' } }).then([])
    given(t, past).when({ ...base, changes: { expires_on: '2025-12-01' } }).thenError('validation', 'expires_on')
  })
  t.test('scope with keys in another order > unchanged', async (t) => {
    given(t, withToken).when({ ...base, changes: { scope: [{ acl: { write: false, read: true }, module: 'entry' }] } }).then([])
  })
  t.test('renaming onto another live token > validation on name', async (t) => {
    given(t, [...withToken, tokenGenerated('blt2', 'other')]).when({ ...base, changes: { name: 'other' } }).thenError('validation', 'name')
  })
  t.test('a bad field fails the whole update: nothing is appended', async (t) => {
    given(t, withToken).when({ ...base, changes: { name: 'new', rate_limit: { read: 99, write: 1 } } }).thenError('validation', 'rate_limit.read')
  })
  t.test('by a developer > forbidden', async (t) => {
    given(t, withToken).when({ ...base, actor: developer, changes: { name: 'x' } }).thenError('forbidden')
  })
  t.test('an unknown token > token-not-found', async (t) => {
    given(t, withToken).when({ ...base, token_uid: 'nope', changes: { name: 'x' } }).thenError('token-not-found')
  })
  t.test('when revoked > rejects every change with token-revoked: revocation is final', async (t) => {
    const gone = [...withToken, revoked('blt1')]
    given(t, gone).when({ type: 'ChangeLimits', actor: owner, token_uid: 'blt1', rate_limit: { read: 1, write: 1 } }).thenError('token-revoked')
    given(t, gone).when({ type: 'ChangeScope', actor: owner, token_uid: 'blt1', scope: READ_ENTRY }).thenError('token-revoked')
    given(t, gone).when({ type: 'ChangeExpiry', actor: owner, token_uid: 'blt1', expires_on: null }).thenError('token-revoked')
    given(t, gone).when({ type: 'RenameToken', actor: owner, token_uid: 'blt1', name: 'again' }).thenError('token-revoked')
    given(t, gone).when({ type: 'ChangeNotification', actor: owner, token_uid: 'blt1', enabled: true }).thenError('token-revoked')
    given(t, gone).when({ type: 'RevokeToken', actor: owner, token_uid: 'blt1' }).thenError('token-revoked')
    given(t, gone).when({ type: 'EndRotationGrace', actor: owner, token_uid: 'blt1' }).thenError('token-revoked')
  })
  t.test('single-field commands decide like a PUT of that field', async (t) => {
    given(t, withToken)
      .when({ type: 'RenameToken', actor: owner, token_uid: 'blt1', description: 'why' })
      .then([{ type: 'TokenRenamed', data: { api_key: API_KEY, token_uid: 'blt1', name: 'ci', description: 'why', before: { name: 'ci', description: '' } } }])
    given(t, withToken)
      .when({ type: 'ChangeLimits', actor: admin, token_uid: 'blt1', rate_limit: { read: 2, write: 2 } })
      .then([{ type: 'TokenLimitsChanged', data: { api_key: API_KEY, token_uid: 'blt1', rate_limit: { read: 2, write: 2 }, before: { rate_limit: null } } }])
    given(t, withToken).when({ type: 'ChangeExpiry', actor: owner, token_uid: 'blt1', expires_on: null }).then([])
    given(t, withToken).when({ type: 'ChangeNotification', actor: owner, token_uid: 'blt1', enabled: false }).then([])
  })
})

t.test('RevokeToken', async (t) => {
  t.test('with a reason > TokenRevoked says it (a DELETE says user)', async (t) => {
    given(t, withToken)
      .when({ type: 'RevokeToken', actor: admin, token_uid: 'blt1', reason: 'leaked' })
      .then([{ type: 'TokenRevoked', data: { api_key: API_KEY, token_uid: 'blt1', reason: 'leaked' } }])
  })
  t.test('by an admin > TokenRevoked', async (t) => {
    given(t, withToken).when({ type: 'RevokeToken', actor: admin, token_uid: 'blt1' }).then([revoked('blt1')])
  })
  t.test('by a developer > forbidden', async (t) => {
    given(t, withToken).when({ type: 'RevokeToken', actor: developer, token_uid: 'blt1' }).thenError('forbidden')
  })
  t.test('a token keeps working when its creator leaves: revocation needs a manager', async (t) => {
    const creatorLeft = [...stackWithTeam, tokenGenerated('blt1'), { type: 'MemberUnshared', data: { api_key: API_KEY, email: admin.email } } as DomainEvent]
    given(t, creatorLeft).when({ type: 'RevokeToken', actor: admin, token_uid: 'blt1' }).thenError('forbidden')
    given(t, creatorLeft).when({ type: 'RevokeToken', actor: owner, token_uid: 'blt1' }).then([revoked('blt1')])
  })
})

t.test('RotateToken: a new secret for the same token, the old one kept for a grace period', async (t) => {
  const rotate = (grace: number) => ({ type: 'RotateToken' as const, actor: owner, token_uid: 'blt1', secret_hash: 'hash-new', previous_expires_in_seconds: grace })
  t.test('with a grace period > the old secret works until now + grace', async (t) => {
    given(t, withToken)
      .when(rotate(3600))
      .then([
        {
          type: 'TokenRotated',
          data: { api_key: API_KEY, token_uid: 'blt1', secret_hash: 'hash-new', previous_secret_hash: 'hash-blt1', previous_expires_at: '2026-03-01T13:00:00.000Z' },
        },
      ])
  })
  t.test('twice > the second rotation retires the first new secret', async (t) => {
    const once: DomainEvent = {
      type: 'TokenRotated',
      data: { api_key: API_KEY, token_uid: 'blt1', secret_hash: 'hash-2', previous_secret_hash: 'hash-blt1', previous_expires_at: NOW.toISOString() },
    }
    given(t, [...withToken, once])
      .when(rotate(0))
      .then([
        {
          type: 'TokenRotated',
          data: { api_key: API_KEY, token_uid: 'blt1', secret_hash: 'hash-new', previous_secret_hash: 'hash-2', previous_expires_at: NOW.toISOString() },
        },
      ])
  })
  t.test('grace outside 0..7 days > validation', async (t) => {
    given(t, withToken).when(rotate(-1)).thenError('validation', 'previous_expires_in_seconds')
    given(t, withToken).when(rotate(7 * 24 * 3600 + 1)).thenError('validation', 'previous_expires_in_seconds')
    given(t, withToken).when(rotate(1.5)).thenError('validation', 'previous_expires_in_seconds')
  })
  t.test('by a developer > forbidden', async (t) => {
    given(t, withToken).when({ ...rotate(0), actor: developer }).thenError('forbidden')
  })
  t.test('a revoked token > validation naming uid: its new secret would work nowhere', async (t) => {
    given(t, [...withToken, revoked('blt1')]).when(rotate(0)).thenError('validation', 'uid')
  })
  t.test('an expired token > validation naming expires_on, from its expiry instant on', async (t) => {
    const expiring = [...stackWithTeam, tokenGenerated('blt1', 'ci', { expires_on: '2026-03-01T12:00:00.000Z' })]
    given(t, expiring, { now: new Date('2026-03-01T11:59:59.999Z') }).when(rotate(0)).then([
      {
        type: 'TokenRotated',
        data: { api_key: API_KEY, token_uid: 'blt1', secret_hash: 'hash-new', previous_secret_hash: 'hash-blt1', previous_expires_at: '2026-03-01T11:59:59.999Z' },
      },
    ])
    given(t, expiring).when(rotate(0)).thenError('validation', 'expires_on')
  })
  t.test('an unknown token > token-not-found', async (t) => {
    given(t, withToken).when({ ...rotate(0), token_uid: 'nope' }).thenError('token-not-found')
  })
})

t.test('EndRotationGrace: the previous secret stops now', async (t) => {
  const end = (actor = owner) => ({ type: 'EndRotationGrace' as const, actor, token_uid: 'blt1' })
  const rotated = (until: string): DomainEvent => ({
    type: 'TokenRotated',
    data: { api_key: API_KEY, token_uid: 'blt1', secret_hash: 'hash-2', previous_secret_hash: 'hash-blt1', previous_expires_at: until },
  })
  const during = [...withToken, rotated('2026-03-02T12:00:00.000Z')]
  t.test('while a grace runs > RotationGraceEnded, saying when it would have ended', async (t) => {
    given(t, during)
      .when(end(admin))
      .then([{ type: 'RotationGraceEnded', data: { api_key: API_KEY, token_uid: 'blt1', previous_expires_at: '2026-03-02T12:00:00.000Z' } }])
  })
  t.test('no grace: never rotated, rotated without grace, grace over, or already ended > validation naming previous_secret', async (t) => {
    given(t, withToken).when(end()).thenError('validation', 'previous_secret')
    given(t, [...withToken, rotated(NOW.toISOString())]).when(end()).thenError('validation', 'previous_secret')
    given(t, during, { now: new Date('2026-03-02T12:00:00.000Z') }).when(end()).thenError('validation', 'previous_secret')
    const ended: DomainEvent = { type: 'RotationGraceEnded', data: { api_key: API_KEY, token_uid: 'blt1', previous_expires_at: '2026-03-02T12:00:00.000Z' } }
    given(t, [...during, ended]).when(end()).thenError('validation', 'previous_secret')
  })
  t.test('a later rotation starts a new grace to end', async (t) => {
    const ended: DomainEvent = { type: 'RotationGraceEnded', data: { api_key: API_KEY, token_uid: 'blt1', previous_expires_at: '2026-03-02T12:00:00.000Z' } }
    given(t, [...during, ended, rotated('2026-03-01T13:00:00.000Z')])
      .when(end())
      .then([{ type: 'RotationGraceEnded', data: { api_key: API_KEY, token_uid: 'blt1', previous_expires_at: '2026-03-01T13:00:00.000Z' } }])
  })
  t.test('by a developer > forbidden; an unknown token > token-not-found', async (t) => {
    given(t, during).when(end(developer)).thenError('forbidden')
    given(t, during).when({ ...end(), token_uid: 'nope' }).thenError('token-not-found')
  })
})

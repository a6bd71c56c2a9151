import * as E from 'fp-ts/lib/Either.js'
import t from 'tap'
import { fold } from '../../src/domain/state.js'
import { applyPolicy, expiryAgainstPolicy, NO_POLICY, outlives } from '../../src/domain/token-policy.js'
import { admin, API_KEY, generate, given, NOW, owner, stackWithTeam, tokenGenerated } from '../support/decider-spec.js'

const DAY = 86_400_000
const set = (policy: Partial<typeof NO_POLICY>) => ({ type: 'SetPolicy' as const, actor: owner, policy })
const policySet = (policy: typeof NO_POLICY, before = NO_POLICY) => ({ type: 'StackPolicySet' as const, data: { api_key: API_KEY, policy, before } })

t.test('outlives: a lifetime over the maximum, or none at all, outlives it; exactly the maximum does not', async (t) => {
  t.notOk(outlives(null, 0, null), 'no rule')
  t.ok(outlives(30, 0, null), 'never expiring outlives every maximum')
  t.notOk(outlives(30, 0, 30 * DAY), 'exactly 30 days')
  t.ok(outlives(30, 0, 30 * DAY + 1), 'a millisecond more')
})

t.test('applyPolicy: absent keeps, null lifts, each bound checked', async (t) => {
  const base = { ...NO_POLICY, max_lifetime_days: 90 }
  t.same(applyPolicy(base, { require_expiry: true }), E.right({ ...base, require_expiry: true }))
  t.same(applyPolicy(base, { max_lifetime_days: null }), E.right(NO_POLICY))
  for (const [field, bad] of [['max_lifetime_days', 0], ['inactive_days', 6], ['default_rotation_grace_seconds', 604_801], ['max_lifetime_days', 2.5]] as const) {
    const r = applyPolicy(base, { [field]: bad })
    t.ok(E.isLeft(r) && r.left.errors?.[`policy.${field}`], `${field} ${bad}`)
  }
  t.equal(expiryAgainstPolicy({ ...NO_POLICY, require_expiry: true }, 0, null)?.errors?.expires_on?.[0], 'is required by the stack policy (require_expiry)')
})

t.test('SetPolicy: owner only, one event with the whole policy and its predecessor, none when unchanged', async (t) => {
  given(t, stackWithTeam).when(set({ max_lifetime_days: 30 })).then([policySet({ ...NO_POLICY, max_lifetime_days: 30 })])
  given(t, stackWithTeam).when({ ...set({ max_lifetime_days: 30 }), actor: admin }).thenError('forbidden', 'authtoken')
  given(t, [...stackWithTeam, policySet({ ...NO_POLICY, max_lifetime_days: 30 })]).when(set({ max_lifetime_days: 30 })).then([])
  t.match(fold([...stackWithTeam, policySet({ ...NO_POLICY, require_expiry: true })]), { status: 'active', policy: { ...NO_POLICY, require_expiry: true } }, 'folded into the state')
})

t.test('GenerateToken and rotation decide on the folded policy', async (t) => {
  const strict = [...stackWithTeam, policySet({ ...NO_POLICY, max_lifetime_days: 30, default_rotation_grace_seconds: 60 })]
  given(t, strict).when(generate(owner, 'blt1', { expires_on: new Date(NOW.getTime() + 31 * DAY).toISOString() })).thenError('validation', 'expires_on')
  given(t, strict).when(generate(owner, 'blt1')).thenError('validation', 'expires_on')
  const r = given(t, [...strict, tokenGenerated('blt1', 'ci', { expires_on: new Date(NOW.getTime() + DAY).toISOString() })]).when({
    type: 'RotateToken',
    actor: owner,
    token_uid: 'blt1',
    secret_hash: 'h2',
  }).result
  t.ok(E.isRight(r) && r.right[0]?.type === 'TokenRotated' && r.right[0].data.previous_expires_at === new Date(NOW.getTime() + 60_000).toISOString(), 'the default grace')
})

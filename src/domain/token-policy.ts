import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import { domainError, validation, type DomainError } from './errors.js'

/**
 * A stack's rules for its management tokens; `null` is "no rule". The codec is the event's and
 * the read model's shape; the bounds below are checked when an owner sets them.
 */
export const StackPolicy = t.type({
  max_lifetime_days: t.union([t.number, t.null]),
  require_expiry: t.union([t.boolean, t.null]),
  inactive_days: t.union([t.number, t.null]),
  default_rotation_grace_seconds: t.union([t.number, t.null]),
})
export type StackPolicy = t.TypeOf<typeof StackPolicy>
export type PolicyField = keyof StackPolicy

export const NO_POLICY: StackPolicy = { max_lifetime_days: null, require_expiry: null, inactive_days: null, default_rotation_grace_seconds: null }
export const POLICY_FIELDS = Object.keys(NO_POLICY) as readonly PolicyField[]

const DAY_MS = 86_400_000
/** The longest rotation grace (rule for `previous_expires_in_seconds` and the policy's default alike). */
export const MAX_ROTATION_GRACE_SECONDS = 7 * 24 * 3600
/** Integer bounds of the numeric rules, inclusive. */
export const POLICY_BOUNDS = {
  max_lifetime_days: [1, 3650],
  inactive_days: [7, 3650],
  default_rotation_grace_seconds: [0, MAX_ROTATION_GRACE_SECONDS],
} as const

type Result<A> = E.Either<DomainError, A>

/** The policy after `changes` (a field absent is unchanged), or a 422 naming the first field out of bounds. */
export const applyPolicy = (current: StackPolicy, changes: Partial<StackPolicy>): Result<StackPolicy> => {
  const next: StackPolicy = { ...current, ...Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)) }
  for (const [field, [min, max]] of Object.entries(POLICY_BOUNDS) as Array<[keyof typeof POLICY_BOUNDS, readonly [number, number]]>) {
    const v = next[field]
    if (v !== null && !(Number.isInteger(v) && v >= min && v <= max)) return E.left(validation(`policy.${field}`, `must be null or an integer from ${min} to ${max}`))
  }
  return E.right(next)
}

/** The fields whose values differ between two policies, in the documented order. */
export const policyChanges = (a: StackPolicy, b: StackPolicy): PolicyField[] => POLICY_FIELDS.filter((f) => a[f] !== b[f])

/**
 * Whether a token created at `createdMs` and expiring at `expiresMs` (null: never) lives longer
 * than `maxDays` allow. A token that never expires outlives every maximum. The authorizer asks
 * this of tokens made before a tighter policy.
 */
export const outlives = (maxDays: number | null, createdMs: number, expiresMs: number | null): boolean =>
  maxDays !== null && (expiresMs === null || expiresMs - createdMs > maxDays * DAY_MS)

/**
 * The policy's verdict on a token's expiry (an ISO instant or null), for a token created at
 * `createdMs`: a 422 naming `expires_on` and the rule, or nothing.
 */
export const expiryAgainstPolicy = (policy: StackPolicy, createdMs: number, expiresOn: string | null): DomainError | undefined => {
  if (policy.require_expiry === true && expiresOn === null)
    return domainError('validation', 'expires_on: this stack requires every management token to have an expiry (policy require_expiry).', {
      expires_on: ['is required by the stack policy (require_expiry)'],
    })
  const max = policy.max_lifetime_days
  if (max !== null && outlives(max, createdMs, expiresOn === null ? null : Date.parse(expiresOn))) {
    const latest = new Date(createdMs + max * DAY_MS).toISOString()
    return domainError('validation', `expires_on: this stack allows management tokens to live at most ${max} days from creation (policy max_lifetime_days); the latest allowed is ${latest}.`, {
      expires_on: [`must be at most ${max} days after the token's creation (policy max_lifetime_days): ${latest} at the latest`],
    })
  }
  return undefined
}

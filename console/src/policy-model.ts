/** A stack's token policy as the service answers it (null: no rule). */
export interface TokenPolicy {
  readonly max_lifetime_days: number | null
  readonly require_expiry: boolean | null
  readonly inactive_days: number | null
  readonly default_rotation_grace_seconds: number | null
}

export const NO_POLICY: TokenPolicy = { max_lifetime_days: null, require_expiry: null, inactive_days: null, default_rotation_grace_seconds: null }

const days = (n: number) => `${n} day${n === 1 ? '' : 's'}`

/** The rules a token form must meet, in a person's words; none when the stack sets none. */
export const expiryRules = (p: TokenPolicy): string[] => {
  const max = p.max_lifetime_days
  if (p.require_expiry && max !== null) return [`This stack requires an expiry within ${days(max)} of the token's creation.`]
  if (p.require_expiry) return ['This stack requires every token to have an expiry.']
  if (max !== null) return [`Tokens of this stack may live at most ${days(max)} from their creation; a token that never expires is refused.`]
  return []
}

/** Every rule set, as the policy page lists it to those who may only read it. */
export const ruleLines = (p: TokenPolicy): string[] => {
  const lines = expiryRules(p)
  if (p.inactive_days !== null) lines.push(`Inactivity period: ${days(p.inactive_days)}.`)
  if (p.default_rotation_grace_seconds !== null) lines.push(`A rotation keeps the previous secret working for ${p.default_rotation_grace_seconds} seconds unless another grace is chosen.`)
  return lines
}

/** The form's text fields and checkbox from a policy, and back (empty: no rule). */
export interface PolicyForm {
  readonly max_lifetime_days: string
  readonly require_expiry: boolean
  readonly inactive_days: string
  readonly default_rotation_grace_seconds: string
}
const text = (n: number | null) => (n === null ? '' : String(n))
export const formOfPolicy = (p: TokenPolicy): PolicyForm => ({
  max_lifetime_days: text(p.max_lifetime_days),
  require_expiry: p.require_expiry === true,
  inactive_days: text(p.inactive_days),
  default_rotation_grace_seconds: text(p.default_rotation_grace_seconds),
})
/** Numbers as typed (the service judges their range and says which field is wrong). */
const num = (s: string): number | null => (s.trim() === '' ? null : Number(s.trim()))
export const policyOfForm = (f: PolicyForm): TokenPolicy => ({
  max_lifetime_days: num(f.max_lifetime_days),
  require_expiry: f.require_expiry ? true : null,
  inactive_days: num(f.inactive_days),
  default_rotation_grace_seconds: num(f.default_rotation_grace_seconds),
})

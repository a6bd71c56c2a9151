import * as E from 'fp-ts/lib/Either.js'
import { canonicalEmail, emailProblem } from './email.js'
import { domainError, validation, type DomainError, type FieldErrors } from './errors.js'
import { plainTextProblem } from './plain-text.js'
import { isModule, READ_ONLY_MODULES, type RateLimit, type Scope } from './scope.js'
import type { Policy } from './commands.js'
import { MAX_ROTATION_GRACE_SECONDS } from './token-policy.js'

export { MAX_ROTATION_GRACE_SECONDS }

type Result<A> = E.Either<DomainError, A>

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/
export const MAX_NAME = 200
export const MAX_DESCRIPTION = 1000

/**
 * `YYYY-MM-DD` (the token stops at 00:00:00.000 UTC of that date), a full ISO-8601 instant,
 * or null for never. Returns the normalised ISO instant; whether it is in the future is a
 * separate check, so that echoing back an unchanged past expiry is not an error.
 */
export const normaliseExpiry = (input: string | null): Result<string | null> => {
  if (input === null) return E.right(null)
  const day = DATE_ONLY.exec(input)
  let ms = Number.NaN
  if (day) {
    ms = Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3]))
    if (new Date(ms).toISOString().slice(0, 10) !== input) ms = Number.NaN
  } else if (INSTANT.test(input)) {
    ms = Date.parse(input)
  }
  return Number.isFinite(ms)
    ? E.right(new Date(ms).toISOString())
    : E.left(validation('expires_on', 'must be a YYYY-MM-DD date, an ISO-8601 instant or null'))
}

/** Whether a token has expired at `now`: it stops working at its expiry instant, to the millisecond. */
export const hasExpired = (expiresOn: string | null, now: Date): boolean => expiresOn !== null && Date.parse(expiresOn) <= now.getTime()

export const requireFuture = (expiresOn: string | null, now: Date): Result<string | null> =>
  hasExpired(expiresOn, now)
    ? E.left(validation('expires_on', 'must be in the future'))
    : E.right(expiresOn)

export const validateScope = (scope: Scope): Result<Scope> => {
  const errors: FieldErrors = {}
  const add = (field: string, message: string) => (errors[field] ??= []).push(message)
  if (scope.length === 0) add('scope', 'must list at least one module')
  scope.forEach((entry, i) => {
    const at = `scope[${i}]`
    if (!isModule(entry.module)) {
      add(`${at}.module`, `unknown module "${entry.module}"`)
      return
    }
    if (entry.acl.write && !entry.acl.read) add(`${at}.acl`, 'write requires read')
    if (!entry.acl.read && !entry.acl.write) add(`${at}.acl`, 'must allow read')
    if (entry.acl.write && READ_ONLY_MODULES.has(entry.module))
      add(`${at}.acl`, `module "${entry.module}" is read-only`)
    if (entry.module === 'branch' && !(entry.branches && entry.branches.length > 0))
      add(`${at}.branches`, 'module "branch" needs a non-empty branches list')
    if (entry.module === 'branch_alias' && !(entry.branch_aliases && entry.branch_aliases.length > 0))
      add(`${at}.branch_aliases`, 'module "branch_alias" needs a non-empty branch_aliases list')
    // The authorizer enforces branch lists only where they name the token's branches (a scope
    // field is enforced on every surface or refused, never accepted and ignored).
    if (entry.branches !== undefined && entry.module !== 'branch' && entry.module !== '$all')
      add(`${at}.branches`, `is only allowed on module "branch" or "$all", not "${entry.module}"`)
    if (entry.branch_aliases !== undefined && entry.module !== 'branch_alias' && entry.module !== '$all')
      add(`${at}.branch_aliases`, `is only allowed on module "branch_alias" or "$all", not "${entry.module}"`)
  })
  const fields = Object.keys(errors)
  if (fields.length === 0) return E.right(scope)
  const first = fields[0] as string
  return E.left(domainError('validation', `${first}: ${errors[first]?.[0]}`, errors))
}

export const validateRateLimit = (rl: RateLimit | null, policy: Policy): Result<RateLimit | null> => {
  if (rl === null) return E.right(null)
  const check = (field: 'read' | 'write', plan: number): DomainError | undefined => {
    const v = rl[field]
    if (!Number.isInteger(v) || v < 1) return validation(`rate_limit.${field}`, 'must be a positive integer')
    if (v > plan) return validation(`rate_limit.${field}`, `may not exceed the plan limit of ${plan} per second`)
    return undefined
  }
  const err = check('read', policy.planReadLimit) ?? check('write', policy.planWriteLimit)
  return err ? E.left(err) : E.right({ read: rl.read, write: rl.write })
}

/** Names and descriptions: trimmed, and free of the characters src/domain/plain-text.ts refuses, whoever sends the command. */
export const validateText = (field: string, value: string, max: number, required: boolean): Result<string> => {
  const v = value.trim()
  if (required && v.length === 0) return E.left(validation(field, 'is required'))
  if (v.length > max) return E.left(validation(field, `must be at most ${max} characters`))
  const problem = plainTextProblem(value)
  return problem === undefined ? E.right(v) : E.left(validation(field, problem))
}

export const validateEmail = (field: string, email: string): Result<string> => {
  const canonical = canonicalEmail(email)
  const problem = emailProblem(email)
  return problem === undefined ? E.right(canonical) : E.left(validation(field, problem))
}

export const validateGrace = (seconds: number): Result<number> =>
  Number.isInteger(seconds) && seconds >= 0 && seconds <= MAX_ROTATION_GRACE_SECONDS
    ? E.right(seconds)
    : E.left(validation('previous_expires_in_seconds', `must be an integer from 0 to ${MAX_ROTATION_GRACE_SECONDS}`))

/** Canonical JSON for comparing values regardless of key order. */
export const canonical = (v: unknown): string =>
  JSON.stringify(v, (_k, val: unknown) =>
    val && typeof val === 'object' && !Array.isArray(val)
      ? Object.fromEntries(Object.entries(val as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : val,
  )

import * as E from 'fp-ts/lib/Either.js'
import type { ChangeRoles, DecideContext } from './commands.js'
import { domainError, validation, type DomainError } from './errors.js'
import type { DomainEvent } from './events.js'
import { isRole, managesStack, notManager, rolesOn } from './roles.js'
import { validateEmail } from './rules.js'
import type { StackState } from './state.js'

type Active = Extract<StackState, { status: 'active' }>

/** The path that changes a member's roles: sharing names it when refusing someone already there. */
export const ROLES_PATH = 'PUT /v3/stacks/users/roles'

const sameRoles = (a: readonly string[], b: readonly string[]) => {
  const x = new Set(a)
  const y = new Set(b)
  return x.size === y.size && [...x].every((r) => y.has(r))
}

/**
 * Sharing adds people; it never changes the roles of someone already on the stack, so a share
 * that names one is refused whole, naming that address and the path that changes roles.
 */
export const alreadyOnStack = (s: Active, email: string): DomainError | undefined => {
  if (email === s.owner_email)
    return domainError('validation', `${email} is the owner of this stack: the owner has every right and no roles to change.`, {
      emails: [`${email} is the owner of this stack`],
    })
  if (!s.members.has(email)) return undefined
  return domainError('validation', `${email} is already a member of this stack; change their roles with ${ROLES_PATH}.`, {
    emails: [`${email} is already a member; use ${ROLES_PATH} to change their roles`],
  })
}

const one = (s: Active, seen: Set<string>, user: { email: string; roles: readonly string[] }): E.Either<DomainError, DomainEvent[]> => {
  const typed = validateEmail(`users.${user.email}`, user.email)
  if (E.isLeft(typed)) return typed
  const email = typed.right
  const field = `users.${email}`
  if (seen.has(email)) return E.left(validation(field, 'is listed more than once'))
  seen.add(email)
  if (email === s.owner_email) return E.left(validation(field, "is the stack's owner, whose roles cannot be changed"))
  const current = s.members.get(email)
  if (current === undefined)
    return E.left(domainError('member-not-found', `${email} is not a member of this stack.`, { [field]: ['is not a member of this stack'] }))
  if (user.roles.length === 0 || !user.roles.every(isRole))
    return E.left(validation(field, 'must list roles among admin, developer, content_manager'))
  const roles = [...new Set(user.roles)]
  return E.right(sameRoles(current, roles) ? [] : [{ type: 'MemberRoleChanged', data: { api_key: s.api_key, email, roles } }])
}

/**
 * The owner or an admin replaces members' roles: one MemberRoleChanged per member whose roles
 * change, none for the rest; one bad entry refuses the whole request.
 */
export const decideRoleChange = (cmd: ChangeRoles, state: StackState, ctx: DecideContext): E.Either<DomainError, DomainEvent[]> => {
  if (state.status !== 'active') return E.left(domainError('stack-not-found', 'Stack not found.'))
  if (!managesStack(rolesOn(state, cmd.actor.email))) return E.left(notManager("change members' roles"))
  if (cmd.users.length === 0) return E.left(validation('users', 'must list at least one member'))
  const max = ctx.policy.maxEmailsPerShare
  if (cmd.users.length > max) return E.left(validation('users', `must list at most ${max} members per request (got ${cmd.users.length})`))
  const seen = new Set<string>()
  const events: DomainEvent[] = []
  for (const user of cmd.users) {
    const decided = one(state, seen, user)
    if (E.isLeft(decided)) return decided
    events.push(...decided.right)
  }
  return E.right(events)
}

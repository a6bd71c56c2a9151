import { domainError, type DomainError } from './errors.js'

/** Built-in stack roles. The owner is not a role: it is a property of the stack. */
export const ROLES = [
  { uid: 'admin', name: 'Admin' },
  { uid: 'developer', name: 'Developer' },
  { uid: 'content_manager', name: 'Content Manager' },
] as const
export type Role = (typeof ROLES)[number]['uid']
const roleSet: ReadonlySet<string> = new Set(ROLES.map((r) => r.uid))
export const isRole = (r: string): r is Role => roleSet.has(r)

/** How the owner is named in a list of a person's roles (the read side's `roles`, the API's `role`). */
export const OWNER = 'owner'

/** Who may manage a stack's tokens, members and audit log: its owner and its admins. */
export const managesStack = (roles: readonly string[]): boolean => roles.includes(OWNER) || roles.includes('admin')

/** What decides on a stack's people: its owner and members (the owner among them, with its roles or none). */
export interface People {
  readonly owner_email: string
  readonly members: ReadonlyMap<string, readonly string[]>
}

/** A person's roles on a stack, `owner` for its owner; none for a stranger. */
export const rolesOn = (s: People, email: string): readonly string[] => (email === s.owner_email ? [OWNER] : (s.members.get(email) ?? []))

/** The emails of the people who manage the stack: the owner first, then admins in the order they joined. */
export const managersOf = (s: People): string[] => [s.owner_email, ...[...s.members.keys()].filter((e) => e !== s.owner_email && managesStack(rolesOn(s, e)))]

/** The refusal of a manager's action to anyone else; `action` completes "may ...". */
export const notManager = (action: string): DomainError =>
  domainError('forbidden', `Only the stack owner or an admin may ${action}.`, { authtoken: ['lacks the owner or admin role'] })

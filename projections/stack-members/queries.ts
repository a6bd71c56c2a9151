import type Database from 'better-sqlite3'
import { ROLES, OWNER } from '../../src/domain/roles.js'
import type { StackRow } from './index.js'

export type StackView = StackRow

/** A stack as one of its members sees it in the list of their stacks. */
export interface MemberStackView extends StackView {
  /** The member's role: `owner`, or the first of their roles. */
  readonly role: string
}

/** A member may hold several roles; the console shows the one that allows the most. */
export const highestRole = (roles: readonly string[]): string =>
  roles.includes(OWNER) ? OWNER : (ROLES.find((r) => roles.includes(r.uid))?.uid ?? 'developer')

/** Stacks, their members and roles, prepared once per read-model connection. */
export const stackQueries = (db: Database.Database) => {
  const stack = db.prepare<[string], StackView>('SELECT * FROM stacks WHERE api_key = ?')
  const member = db.prepare<[string, string], { roles: string }>('SELECT roles FROM stack_members WHERE api_key = ? AND email = ?')
  const members = db.prepare<[string], { email: string; roles: string }>('SELECT email, roles FROM stack_members WHERE api_key = ? ORDER BY email')
  // stack_members holds the owner too (StackCreated adds them, with no roles).
  const stacksOf = db.prepare<[string], StackView & { roles: string }>(
    `SELECT s.*, m.roles AS roles FROM stack_members m JOIN stacks s ON s.api_key = m.api_key
     WHERE m.email = ? ORDER BY s.created_at, s.api_key`,
  )
  const created = db.prepare<[string], number>('SELECT COUNT(*) FROM stacks WHERE created_by = ?').pluck()
  return {
    stack: (apiKey: string): StackView | undefined => stack.get(apiKey),
    /** How many stacks the user (uid) created, whoever owns them now. */
    stacksCreatedBy: (uid: string): number => created.get(uid) as number,
    /** 'owner', the member's roles, or undefined for a non-member. */
    roles: (apiKey: string, email: string): readonly string[] | undefined => {
      const s = stack.get(apiKey)
      if (!s) return undefined
      if (s.owner_email === email) return [OWNER]
      const m = member.get(apiKey, email)
      return m ? (JSON.parse(m.roles) as string[]) : undefined
    },
    /** Every stack the email is a member (or the owner) of, oldest first, with its role. */
    stacksOf: (email: string): MemberStackView[] =>
      stacksOf.all(email).map(({ roles, ...s }) => ({
        ...s,
        role: s.owner_email === email ? OWNER : highestRole(JSON.parse(roles) as string[]),
      })),
    members: (apiKey: string) => {
      const owner = stack.get(apiKey)?.owner_email
      return members.all(apiKey).map((m) => ({
        email: m.email,
        roles: m.email === owner ? [OWNER] : (JSON.parse(m.roles) as string[]),
      }))
    },
  }
}

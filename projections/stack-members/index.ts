import type { Recorded } from '../../src/domain/events.js'
import { NONE, one, put, remove, type Change, type Current, type Projection, type Table } from '../../src/read/projection.js'

export type StackRow = {
  readonly api_key: string
  readonly name: string
  readonly description: string
  readonly owner_email: string
  readonly owner_uid: string
  readonly created_by: string
  readonly updated_by: string
  /** The emails of the authtokens that acted, beside their uids; null for events recorded without one. */
  readonly created_by_email: string | null
  readonly updated_by_email: string | null
  readonly created_at: string
  readonly updated_at: string
}

export type MemberRow = {
  readonly api_key: string
  readonly email: string
  /** The roles as JSON; the owner's row (added by StackCreated) has none. */
  readonly roles: string
  readonly shared_by: string
  readonly shared_at: string
}

export const stacks: Table<StackRow> = {
  name: 'stacks',
  columns: {
    api_key: 'TEXT PRIMARY KEY',
    name: 'TEXT NOT NULL',
    description: 'TEXT NOT NULL',
    owner_email: 'TEXT NOT NULL',
    owner_uid: 'TEXT NOT NULL',
    created_by: 'TEXT NOT NULL',
    updated_by: 'TEXT NOT NULL',
    created_by_email: 'TEXT',
    updated_by_email: 'TEXT',
    created_at: 'TEXT NOT NULL',
    updated_at: 'TEXT NOT NULL',
  },
  key: ['api_key'],
  // The per-user stack quota counts the stacks a user created.
  indexes: [{ name: 'by_creator', on: 'created_by' }],
}

export const members: Table<MemberRow> = {
  name: 'stack_members',
  columns: { api_key: 'TEXT NOT NULL', email: 'TEXT NOT NULL', roles: 'TEXT NOT NULL', shared_by: 'TEXT NOT NULL', shared_at: 'TEXT NOT NULL' },
  primaryKey: ['api_key', 'email'],
  key: ['api_key', 'email'],
  indexes: [{ name: 'by_email', on: 'email' }],
}

/** The stack's row as changed by `actor` at `at`, with a new owner if given (nothing when there is no stack). */
const touch = (current: Current, apiKey: string, updated_by: string, updated_by_email: string | null, updated_at: string, owner?: string): readonly Change[] => {
  const s = one(current, stacks, apiKey)
  if (!s) return NONE
  // Column by column: spreading a row is many times slower, and a share or unshare copies one.
  const row: StackRow = {
    api_key: s.api_key,
    name: s.name,
    description: s.description,
    owner_email: owner ?? s.owner_email,
    owner_uid: owner ?? s.owner_uid,
    created_by: s.created_by,
    updated_by,
    created_by_email: s.created_by_email,
    updated_by_email,
    created_at: s.created_at,
    updated_at,
  }
  return [put(stacks, row)]
}

const member = (api_key: string, email: string, roles: string, shared_by: string, shared_at: string): Change =>
  put(members, { api_key, email, roles, shared_by, shared_at })

const evolve = (current: Current, { event, metadata }: Recorded): readonly Change[] => {
  const actor = metadata.actor
  const actorEmail = metadata.actor_email ?? null
  const at = metadata.occurred_at
  const apiKey = event.data.api_key
  switch (event.type) {
    case 'StackCreated': {
      const d = event.data
      const stack: StackRow = {
        api_key: apiKey,
        name: d.name,
        description: d.description,
        owner_email: d.owner_email,
        owner_uid: d.owner_uid,
        created_by: actor,
        updated_by: actor,
        created_by_email: actorEmail,
        updated_by_email: actorEmail,
        created_at: at,
        updated_at: at,
      }
      return [put(stacks, stack), member(apiKey, d.owner_email, '[]', actor, at)]
    }
    case 'MemberShared':
      return [member(apiKey, event.data.email, JSON.stringify(event.data.roles), actor, at), ...touch(current, apiKey, actor, actorEmail, at)]
    case 'MemberRoleChanged': {
      // Who shared the member, and when, stays: a role change is not a new share.
      const was = one(current, members, [apiKey, event.data.email])
      if (!was) return NONE
      const row = member(apiKey, event.data.email, JSON.stringify(event.data.roles), was.shared_by, was.shared_at)
      return [row, ...touch(current, apiKey, actor, actorEmail, at)]
    }
    case 'MemberUnshared':
      return [remove(members, [apiKey, event.data.email]), ...touch(current, apiKey, actor, actorEmail, at)]
    case 'OwnershipTransferred': {
      const to = event.data.to_email
      // The event names the new owner by email only, so owner_uid takes the email.
      return [...touch(current, apiKey, actor, actorEmail, at, to), member(apiKey, event.data.from_email, '["admin"]', actor, at)]
    }
    default:
      return NONE
  }
}

/** Stacks and their members with roles: who may call the management endpoints. */
export const stackMembers: Projection = {
  name: 'stack-members',
  version: 3,
  file: 'read-models',
  tables: [stacks as Table, members as Table],
  handles: new Set(['StackCreated', 'MemberShared', 'MemberUnshared', 'OwnershipTransferred', 'MemberRoleChanged']),
  evolve,
}

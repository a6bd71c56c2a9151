import type { Recorded } from '../../src/domain/events.js'
import { NONE, put, type Change, type Current, type Projection, type Table } from '../../src/read/projection.js'

/** A row of `stack_policies`: a stack's token policy, for the API and the authorizer (null: no rule). */
export type PolicyRow = {
  readonly api_key: string
  readonly max_lifetime_days: number | null
  /** 1 or 0, or null: no rule. */
  readonly require_expiry: number | null
  readonly inactive_days: number | null
  readonly default_rotation_grace_seconds: number | null
  readonly updated_by: string
  readonly updated_at: string
}

export const policies: Table<PolicyRow> = {
  name: 'stack_policies',
  columns: {
    api_key: 'TEXT PRIMARY KEY',
    max_lifetime_days: 'INTEGER',
    require_expiry: 'INTEGER',
    inactive_days: 'INTEGER',
    default_rotation_grace_seconds: 'INTEGER',
    updated_by: 'TEXT NOT NULL',
    updated_at: 'TEXT NOT NULL',
  },
  key: ['api_key'],
}

/** The event carries the whole policy: the row is written from it alone. */
const evolve = (_current: Current, { event, metadata }: Recorded): readonly Change[] => {
  if (event.type !== 'StackPolicySet') return NONE
  const p = event.data.policy
  return [
    put(policies, {
      api_key: event.data.api_key,
      max_lifetime_days: p.max_lifetime_days,
      require_expiry: p.require_expiry === null ? null : p.require_expiry ? 1 : 0,
      inactive_days: p.inactive_days,
      default_rotation_grace_seconds: p.default_rotation_grace_seconds,
      updated_by: metadata.actor,
      updated_at: metadata.occurred_at,
    }),
  ]
}

/**
 * Each stack's token policy, one row per stack that ever set one (a stack without a row has no
 * rules). The authorizer joins it to a secret's row when it looks the secret up.
 */
export const stackPolicy: Projection = {
  name: 'stack-policy',
  version: 1,
  file: 'read-models',
  tables: [policies as Table],
  handles: new Set(['StackPolicySet']),
  evolve,
}

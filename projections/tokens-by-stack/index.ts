import type { Recorded } from '../../src/domain/events.js'
import { NONE, one, put, type Change, type Current, type Projection, type Table } from '../../src/read/projection.js'

/** A row of `tokens`: a token's details (never a secret, not even its hash). */
export type TokenRow = {
  readonly uid: string
  readonly api_key: string
  readonly name: string
  readonly description: string
  /** The scope as JSON. */
  readonly scope: string
  readonly expires_on: string | null
  /** `{read, write}` as JSON, or null for the plan's. */
  readonly rate_limit: string | null
  readonly is_email_notification_enabled: number
  /** The allow-list as a JSON array, or null: any address. */
  readonly allowed_ips: string | null
  readonly created_by: string
  readonly updated_by: string
  readonly created_at: string
  readonly updated_at: string
  readonly rotated_at: string | null
  /** Until when the secrets rotated out last keep working, or null (none, or the grace was ended). */
  readonly grace_until: string | null
  readonly revoked_at: string | null
  readonly revoked_by: string | null
}

export const tokens: Table<TokenRow> = {
  name: 'tokens',
  columns: {
    uid: 'TEXT PRIMARY KEY',
    api_key: 'TEXT NOT NULL',
    name: 'TEXT NOT NULL',
    description: 'TEXT NOT NULL',
    scope: 'TEXT NOT NULL',
    expires_on: 'TEXT',
    rate_limit: 'TEXT',
    is_email_notification_enabled: 'INTEGER NOT NULL',
    allowed_ips: 'TEXT',
    created_by: 'TEXT NOT NULL',
    updated_by: 'TEXT NOT NULL',
    created_at: 'TEXT NOT NULL',
    updated_at: 'TEXT NOT NULL',
    rotated_at: 'TEXT',
    grace_until: 'TEXT',
    revoked_at: 'TEXT',
    revoked_by: 'TEXT',
  },
  key: ['uid'],
  indexes: [{ name: 'by_stack', on: 'api_key, created_at' }],
}

/** The column's value: null for no list (any address). */
export const allowList = (ips: readonly string[] | undefined): string | null => (ips === undefined || ips.length === 0 ? null : JSON.stringify(ips))

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/**
 * A copy of the row, changed by one of the token's events (who and when included). Listed column
 * by column: a rebuild copies a row per event, and spreading one is many times slower.
 */
const changed = (r: TokenRow, { event }: Recorded, updated_by: string, updated_at: string): TokenRow | undefined => {
  const row: Mutable<TokenRow> = {
    uid: r.uid,
    api_key: r.api_key,
    name: r.name,
    description: r.description,
    scope: r.scope,
    expires_on: r.expires_on,
    rate_limit: r.rate_limit,
    is_email_notification_enabled: r.is_email_notification_enabled,
    allowed_ips: r.allowed_ips,
    created_by: r.created_by,
    updated_by,
    created_at: r.created_at,
    updated_at,
    rotated_at: r.rotated_at,
    grace_until: r.grace_until,
    revoked_at: r.revoked_at,
    revoked_by: r.revoked_by,
  }
  switch (event.type) {
    case 'TokenRenamed':
      row.name = event.data.name
      row.description = event.data.description
      return row
    case 'TokenScopeChanged':
      row.scope = JSON.stringify(event.data.scope)
      return row
    case 'TokenExpiryChanged':
      row.expires_on = event.data.expires_on
      return row
    case 'TokenLimitsChanged':
      row.rate_limit = event.data.rate_limit === null ? null : JSON.stringify(event.data.rate_limit)
      return row
    case 'TokenNotificationChanged':
      row.is_email_notification_enabled = event.data.is_email_notification_enabled ? 1 : 0
      return row
    case 'TokenAllowedIpsChanged':
      row.allowed_ips = allowList(event.data.allowed_ips)
      return row
    case 'TokenRotated':
      row.rotated_at = updated_at
      row.grace_until = event.data.previous_expires_at
      return row
    case 'RotationGraceEnded':
      row.grace_until = null
      return row
    case 'TokenRevoked':
      row.revoked_at = updated_at
      row.revoked_by = updated_by
      return row
    default:
      return undefined
  }
}

const evolve = (current: Current, rec: Recorded): readonly Change[] => {
  const { event, metadata } = rec
  const actor = metadata.actor
  const at = metadata.occurred_at
  if (event.type === 'TokenGenerated') {
    const d = event.data
    return [
      put(tokens, {
        uid: d.token_uid,
        api_key: d.api_key,
        name: d.name,
        description: d.description,
        scope: JSON.stringify(d.scope),
        expires_on: d.expires_on,
        rate_limit: d.rate_limit === null ? null : JSON.stringify(d.rate_limit),
        is_email_notification_enabled: d.is_email_notification_enabled ? 1 : 0,
        allowed_ips: allowList(d.allowed_ips),
        created_by: actor,
        updated_by: actor,
        created_at: at,
        updated_at: at,
        rotated_at: null,
        grace_until: null,
        revoked_at: null,
        revoked_by: null,
      }),
    ]
  }
  // Every other event updates the token's row, if there is one.
  if (!('token_uid' in event.data)) return NONE
  const row = one(current, tokens, event.data.token_uid)
  const next = row && changed(row, rec, actor, at)
  return next ? [put(tokens, next)] : NONE
}

/** Token details for listing, querying and fetching. */
export const tokensByStack: Projection = {
  name: 'tokens-by-stack',
  // 2: grace_until, the end of the running rotation grace.
  // 3: allowed_ips.
  version: 3,
  file: 'read-models',
  tables: [tokens as Table],
  handles: new Set([
    'TokenGenerated',
    'TokenRenamed',
    'TokenScopeChanged',
    'TokenExpiryChanged',
    'TokenLimitsChanged',
    'TokenNotificationChanged',
    'TokenAllowedIpsChanged',
    'TokenRotated',
    'RotationGraceEnded',
    'TokenRevoked',
  ]),
  evolve,
}

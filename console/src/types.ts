/** The shapes of the /v3 answers the console reads (docs/console-api.md). */
export type Role = 'owner' | 'admin' | 'developer' | 'content_manager'

export interface Stack {
  readonly api_key: string
  readonly name: string
  readonly description: string
  readonly owner_uid: string
  readonly owner_email?: string
  readonly created_at: string
  readonly role: Role
  readonly plan?: { readonly rate_limit: { readonly read: number; readonly write: number }; readonly max_tokens: number }
}

export interface Acl {
  readonly read: boolean
  readonly write: boolean
}
export interface ScopeEntry {
  readonly module: string
  readonly acl: Acl
  readonly branches?: string[]
  readonly branch_aliases?: string[]
}
export interface RateLimit {
  readonly read: number
  readonly write: number
}

export interface Token {
  readonly uid: string
  readonly name: string
  readonly description: string
  readonly scope: ScopeEntry[]
  readonly expires_on: string | null
  readonly rate_limit: RateLimit | null
  readonly is_email_notification_enabled: boolean
  readonly created_by: string
  readonly updated_by: string
  readonly created_at: string
  readonly updated_at: string
  readonly last_rotated_at?: string | null
  /** While a rotation grace runs: until when the previous secret works. */
  readonly previous_secret_expires_at?: string | null
}

/** Only in create and rotate answers: the secret, shown once. */
export interface IssuedToken extends Token {
  readonly token: string
}

export interface Member {
  readonly email: string
  readonly roles: string[]
}

export interface AuditEntry {
  readonly uid: string
  readonly created_at: string
  readonly created_by: string
  readonly module: string
  readonly event_type: string
  readonly request_id: string
  readonly metadata: {
    readonly uid: string
    readonly title: string
    /** An update: the fields it changed, and their values before and after. */
    readonly changed?: string[]
    readonly before?: Readonly<Record<string, unknown>>
    readonly after?: Readonly<Record<string, unknown>>
    /** A revocation: why (`user`, ...). */
    readonly reason?: string
    /** A leaked token's revocation: where its secret was reported found, and whether the report was signed. */
    readonly report?: { readonly url: string | null; readonly source: string | null; readonly signed: boolean }
  }
}

export interface AsOfToken {
  readonly uid: string
  readonly name: string
  readonly scope: ScopeEntry[]
  readonly rate_limit: RateLimit | null
  readonly expires_on: string | null
  readonly status: 'active' | 'expired' | 'revoked'
  readonly revoked_at: string | null
  readonly last_changed_at: string
}

/** Scope modules, in the order the form lists them. */
export const MODULES: ReadonlyArray<{ readonly id: string; readonly label: string; readonly readOnly?: boolean }> = [
  { id: '$all', label: 'All modules ($all)' },
  { id: 'content_type', label: 'Content types' },
  { id: 'entry', label: 'Entries' },
  { id: 'asset', label: 'Assets' },
  { id: 'environment', label: 'Environments' },
  { id: 'locale', label: 'Languages' },
  { id: 'extension', label: 'Extensions' },
  { id: 'webhook', label: 'Webhooks' },
  { id: 'workflow', label: 'Workflows' },
  { id: 'publish_rule', label: 'Publish rules' },
  { id: 'label', label: 'Labels' },
  { id: 'global_field', label: 'Global fields' },
  { id: 'release', label: 'Releases' },
  { id: 'role', label: 'Roles' },
  { id: 'taxonomy', label: 'Taxonomies' },
  { id: 'audit_log', label: 'Audit log', readOnly: true },
  { id: 'publish_queue', label: 'Publish queue' },
  { id: 'branch', label: 'Branches' },
  { id: 'branch_alias', label: 'Branch aliases' },
]

export const ROLE_LABEL: Record<string, string> = {
  owner: 'Owner',
  admin: 'Admin',
  developer: 'Developer',
  content_manager: 'Content manager',
}

export const canManage = (role: Role | undefined): boolean => role === 'owner' || role === 'admin'

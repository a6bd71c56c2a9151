import * as t from 'io-ts'

/** Modules a management token may be scoped to; any other is refused (422 naming it). */
export const MODULES = [
  '$all', 'content_type', 'entry', 'asset', 'environment', 'locale', 'extension', 'webhook',
  'workflow', 'publish_rule', 'label', 'global_field', 'release', 'role', 'taxonomy',
  'audit_log', 'publish_queue', 'branch', 'branch_alias',
] as const
export type Module = (typeof MODULES)[number]
const moduleSet: ReadonlySet<string> = new Set(MODULES)
export const isModule = (m: string): m is Module => moduleSet.has(m)

/** Modules that can only ever be read. */
export const READ_ONLY_MODULES: ReadonlySet<Module> = new Set<Module>(['audit_log'])

export const Acl = t.type({ read: t.boolean, write: t.boolean })
export type Acl = t.TypeOf<typeof Acl>

export const ScopeEntry = t.intersection([
  t.type({ module: t.string, acl: Acl }),
  t.partial({ branches: t.array(t.string), branch_aliases: t.array(t.string) }),
])
export type ScopeEntry = t.TypeOf<typeof ScopeEntry>
export const Scope = t.array(ScopeEntry)
export type Scope = t.TypeOf<typeof Scope>

export const RateLimit = t.type({ read: t.number, write: t.number })
export type RateLimit = t.TypeOf<typeof RateLimit>

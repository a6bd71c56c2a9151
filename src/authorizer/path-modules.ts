import type { Module } from '../domain/scope.js'
import { type CanonicalTarget, canonicalTarget, isRefusal, type Refusal } from './canonical.js'

/** What a CMA path is: a scope module, or something a management token may never touch. */
export type PathTarget = { readonly module: Module } | { readonly never: string }

/**
 * The one table from CMA path to module, with the paths no scope ever opens. A pattern is a list of segments:
 * `:name` matches one segment, a final `**` matches the path itself and anything below it.
 * The first matching row wins, so specific rows come before the general ones they refine.
 * A path that no row matches is denied: the authorizer fails closed.
 */
export const PATH_MODULES: ReadonlyArray<readonly [pattern: string, target: PathTarget]> = [
  // Never, whatever the scope: a management token cannot manage the account, the stack or tokens.
  ['/v3/organizations/**', { never: 'organizations' }],
  ['/v3/user/**', { never: 'user accounts and sessions' }],
  ['/v3/user-session/**', { never: 'user sessions' }],
  ['/v3/stacks/share', { never: 'sharing a stack' }],
  ['/v3/stacks/unshare', { never: 'unsharing a stack' }],
  ['/v3/stacks/management_tokens/**', { never: 'management tokens' }],
  ['/v3/stacks/delivery_tokens/**', { never: 'delivery tokens' }],
  ['/v3/stacks/settings/**', { never: 'stack settings' }],
  // Sets an entry's workflow stage, and approves or rejects publish requests (one CMA endpoint).
  ['/v3/content_types/:content_type/entries/:entry/workflow/**', { never: 'workflow stage changes and publish-request approvals' }],
  ['/v3/bulk/workflow/**', { never: 'workflow stage changes' }],
  // Branches live under /v3/stacks; everything else there is the stack itself.
  ['/v3/stacks/branches/**', { module: 'branch' }],
  ['/v3/stacks/branches_merge/**', { module: 'branch' }],
  ['/v3/stacks/branches_queue/**', { module: 'branch' }],
  ['/v3/stacks/branch_aliases/**', { module: 'branch_alias' }],
  ['/v3/stacks/**', { never: 'stacks and stack settings' }],
  // Content.
  ['/v3/content_types/:content_type/entries/**', { module: 'entry' }],
  ['/v3/content_types/**', { module: 'content_type' }],
  ['/v3/global_fields/**', { module: 'global_field' }],
  ['/v3/assets/**', { module: 'asset' }],
  ['/v3/environments/**', { module: 'environment' }],
  ['/v3/locales/**', { module: 'locale' }],
  ['/v3/extensions/**', { module: 'extension' }],
  ['/v3/webhooks/**', { module: 'webhook' }],
  ['/v3/workflows/publishing_rules/**', { module: 'publish_rule' }],
  ['/v3/workflows/**', { module: 'workflow' }],
  ['/v3/labels/**', { module: 'label' }],
  ['/v3/releases/**', { module: 'release' }],
  ['/v3/roles/**', { module: 'role' }],
  ['/v3/taxonomies/**', { module: 'taxonomy' }],
  ['/v3/audit-logs/**', { module: 'audit_log' }],
  ['/v3/publish-queue/**', { module: 'publish_queue' }],
]

type Compiled = readonly [segments: readonly string[], target: PathTarget]

/** Rows indexed by their literal second segment (`content_types`, `stacks`, ...), in table order. */
const byTopLevel = new Map<string, Compiled[]>()
for (const [pattern, target] of PATH_MODULES) {
  const segments = pattern.split('/').slice(1)
  const key = segments[1] as string
  const rows = byTopLevel.get(key) ?? []
  rows.push([segments, target])
  byTopLevel.set(key, rows)
}

const matches = (pattern: readonly string[], segments: readonly string[]): boolean => {
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i] as string
    if (p === '**') return true
    if (i >= segments.length) return false
    if (p.charCodeAt(0) !== 58 /* : */ && p !== segments[i]) return false
  }
  return pattern.length === segments.length
}

/** The target of a canonical path (canonical.ts), or undefined when no row matches. */
const lookup = (path: string): PathTarget | undefined => {
  const segments = path.slice(1).split('/')
  if (segments[0] !== 'v3') return undefined
  const rows = byTopLevel.get(segments[1] as string)
  if (rows === undefined) return undefined
  for (const [pattern, target] of rows) if (matches(pattern, segments)) return target
  return undefined
}

/**
 * A URI's target, or undefined for an unknown path or one that canonical.ts refuses (dot
 * segments, encoded slashes, upper case, ...): `/v3/assets/../stacks` never passes as an asset
 * path. Ignores the query string.
 */
export const targetOfPath = (rawPath: string): PathTarget | undefined => {
  const c = canonicalTarget(rawPath)
  return isRefusal(c) ? undefined : lookup(c.path)
}

/** A URI in canonical form with the table's answer for it. */
export interface Routed extends CanonicalTarget {
  readonly target: PathTarget | undefined
  /** `path` and `query` together: what a gateway forwards. */
  readonly url: string
}

/**
 * URI to canonical form and target, behind a bounded map: clients repeat their URIs, and the
 * answer for one never changes (the table is code). Emptied when full.
 */
export const cachedRoute = (limit = 10_000) => {
  const known = new Map<string, Routed | Refusal>()
  return (uri: string): Routed | Refusal => {
    let r = known.get(uri)
    if (r === undefined) {
      if (known.size >= limit) known.clear()
      const c = canonicalTarget(uri)
      r = isRefusal(c) ? c : { path: c.path, query: c.query, target: lookup(c.path), url: c.path + c.query }
      known.set(uri, r)
    }
    return r
  }
}

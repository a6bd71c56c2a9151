import { READ_ONLY_MODULES, type Module, type Scope } from '../domain/scope.js'

export type AccessClass = 'read' | 'write'

/**
 * A method's access class: read is GET and HEAD; write is POST, PUT, PATCH and DELETE; nothing else passes.
 * Takes the canonical (upper-case) method of canonical.ts.
 */
export const classOfMethod = (method: string): AccessClass | undefined => {
  switch (method) {
    case 'GET':
    case 'HEAD':
      return 'read'
    case 'POST':
    case 'PUT':
    case 'PATCH':
    case 'DELETE':
      return 'write'
    default:
      return undefined
  }
}

/** A token's scope in the form a decision needs: set lookups instead of a scan per request. */
export interface CompiledScope {
  readonly read: ReadonlySet<string>
  readonly write: ReadonlySet<string>
  /** Branch uids the token may act on; `main` only when no entry names branches. */
  readonly branches: ReadonlySet<string>
  readonly aliases: ReadonlySet<string>
}

const ALL: Module = '$all'

export const compileScope = (scope: Scope): CompiledScope => {
  const read = new Set<string>()
  const write = new Set<string>()
  let branches: Set<string> | undefined
  const aliases = new Set<string>()
  for (const entry of scope) {
    if (entry.acl.read) read.add(entry.module)
    if (entry.acl.write) write.add(entry.module)
    if (entry.branches && (entry.module === 'branch' || entry.module === ALL)) {
      branches ??= new Set()
      for (const b of entry.branches) branches.add(b)
    }
    if (entry.branch_aliases && (entry.module === 'branch_alias' || entry.module === ALL))
      for (const a of entry.branch_aliases) aliases.add(a)
  }
  return { read, write, branches: branches ?? new Set(['main']), aliases }
}

/** `$all` covers every module a token may be scoped to; `audit_log` is never writable. */
export const allows = (scope: CompiledScope, module: Module, cls: AccessClass): boolean => {
  if (cls === 'write') return !READ_ONLY_MODULES.has(module) && (scope.write.has(module) || scope.write.has(ALL))
  return scope.read.has(module) || scope.read.has(ALL)
}

/** The `branch` header names a branch uid or an alias (we cannot resolve aliases: both lists count). */
export const allowsBranch = (scope: CompiledScope, branch: string): boolean =>
  scope.branches.has(branch) || scope.aliases.has(branch)

/**
 * Compiled scopes by their JSON text. Keyed by content, so it can never serve a stale scope:
 * a changed scope is a different key. Bounded; cleared when full (tokens share few scopes).
 */
export const scopeCache = (limit = 10_000) => {
  const cache = new Map<string, CompiledScope>()
  return (json: string): CompiledScope => {
    let compiled = cache.get(json)
    if (compiled === undefined) {
      if (cache.size >= limit) cache.clear()
      compiled = compileScope(JSON.parse(json) as Scope)
      cache.set(json, compiled)
    }
    return compiled
  }
}

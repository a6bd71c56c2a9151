import { list } from './format'
import { MODULES, type RateLimit, type ScopeEntry, type Token } from './types'

export type Perm = 'none' | 'read' | 'write'

/** What the generate/edit form holds: text as typed, so nothing is lost while it is invalid. */
export interface FormState {
  readonly name: string
  readonly description: string
  readonly branchMode: 'main' | 'specific'
  readonly branches: string
  readonly aliases: string
  readonly perms: Readonly<Record<string, Perm>>
  readonly expiryMode: 'never' | 'date'
  readonly date: string
  readonly notify: boolean
  readonly limitMode: 'plan' | 'custom'
  readonly read: string
  readonly write: string
}

export type Errors = Record<string, string[]>

const noPerms = (): Record<string, Perm> => Object.fromEntries(MODULES.map((m) => [m.id, 'none' as Perm]))

export const emptyForm = (): FormState => ({
  name: '',
  description: '',
  branchMode: 'main',
  branches: '',
  aliases: '',
  perms: noPerms(),
  expiryMode: 'never',
  date: '',
  notify: false,
  limitMode: 'plan',
  read: '',
  write: '',
})

/** The edit form: the same fields, filled from the token. */
export const formOf = (t: Token): FormState => {
  const perms = noPerms()
  for (const s of t.scope) perms[s.module] = s.acl.write ? 'write' : s.acl.read ? 'read' : 'none'
  const branches = t.scope.find((s) => s.module === 'branch')?.branches ?? []
  const aliases = t.scope.find((s) => s.module === 'branch_alias')?.branch_aliases ?? []
  const specific = branches.length > 0 && !(branches.length === 1 && branches[0] === 'main')
  return {
    name: t.name,
    description: t.description,
    branchMode: specific ? 'specific' : 'main',
    branches: specific ? branches.join(', ') : '',
    aliases: aliases.join(', '),
    perms,
    expiryMode: t.expires_on ? 'date' : 'never',
    date: t.expires_on ? t.expires_on.slice(0, 10) : '',
    notify: t.is_email_notification_enabled,
    limitMode: t.rate_limit ? 'custom' : 'plan',
    read: t.rate_limit ? String(t.rate_limit.read) : '',
    write: t.rate_limit ? String(t.rate_limit.write) : '',
  }
}

export interface TokenBody {
  readonly name: string
  readonly description: string
  readonly scope: ScopeEntry[]
  readonly expires_on: string | null
  readonly is_email_notification_enabled: boolean
  readonly rate_limit: RateLimit | null
}

const POSITIVE = /^[1-9]\d*$/

/**
 * Checks the form by the service's own rules (name, scope, expiry, rate limits) and builds the
 * request body. Errors are keyed by the form's own field keys: `name`, `perm:entry`, `branches`,
 * `date`, `read`, ...
 */
export const validate = (
  f: FormState,
  plan: RateLimit,
  now: number,
  original?: Token,
): { body?: TokenBody; errors: Errors } => {
  const errors: Errors = {}
  const add = (k: string, m: string) => (errors[k] ??= []).push(m)
  if (f.name.trim().length === 0) add('name', 'Give the token a name.')
  if (f.name.trim().length > 200) add('name', 'At most 200 characters.')
  if (f.description.length > 1000) add('description', 'At most 1000 characters.')

  const scope: ScopeEntry[] = []
  for (const m of MODULES) {
    const p = f.perms[m.id] ?? 'none'
    if (p === 'none') continue
    const entry: ScopeEntry = { module: m.id, acl: { read: true, write: p === 'write' } }
    if (m.id === 'branch') scope.push({ ...entry, branches: f.branchMode === 'specific' ? list(f.branches) : ['main'] })
    else if (m.id === 'branch_alias') scope.push({ ...entry, branch_aliases: list(f.aliases) })
    else scope.push(entry)
  }
  if (scope.length === 0) add('scope', 'Give at least one module read or read-and-write access.')
  if (f.branchMode === 'specific') {
    if (list(f.branches).length === 0) add('branches', 'Name at least one branch, or choose "main only".')
    if ((f.perms.branch ?? 'none') === 'none') add('perm:branch', 'Specific branches need at least Read on Branches.')
  }
  if (list(f.aliases).length > 0 && (f.perms.branch_alias ?? 'none') === 'none')
    add('perm:branch_alias', 'Branch aliases need at least Read on Branch aliases.')
  if ((f.perms.branch_alias ?? 'none') !== 'none' && list(f.aliases).length === 0)
    add('aliases', 'Name at least one alias, or set Branch aliases to None.')

  let expires: string | null = null
  if (f.expiryMode === 'date') {
    const unchanged = original?.expires_on && original.expires_on.slice(0, 10) === f.date
    if (unchanged) expires = original.expires_on
    else if (!/^\d{4}-\d{2}-\d{2}$/.test(f.date)) add('date', 'Choose a date (UTC).')
    else if (!(Date.parse(`${f.date}T00:00:00Z`) > now)) add('date', 'Choose a date in the future: the token stops at 00:00 UTC of that day.')
    else expires = f.date
  }

  let rate: RateLimit | null = null
  if (f.limitMode === 'custom') {
    const check = (k: 'read' | 'write', max: number) => {
      const v = f[k].trim()
      if (!POSITIVE.test(v)) add(k, 'A whole number of requests per second, at least 1.')
      else if (Number(v) > max) add(k, `At most ${max} per second: the plan limit.`)
    }
    check('read', plan.read)
    check('write', plan.write)
    rate = { read: Number(f.read), write: Number(f.write) }
  }
  if (Object.keys(errors).length > 0) return { errors }
  return {
    errors,
    body: {
      name: f.name.trim(),
      description: f.description,
      scope,
      expires_on: expires,
      is_email_notification_enabled: f.expiryMode === 'date' && f.notify,
      rate_limit: rate,
    },
  }
}

/**
 * Where a service field error belongs in the form: `scope[3].acl` names the fourth entry sent,
 * `expires_on` the date, `rate_limit.read` the read limit. Unknown fields go to `form`.
 */
export const formKeyOf = (field: string, sent: readonly ScopeEntry[]): string => {
  const scoped = /^scope\[(\d+)\](?:\.(\w+))?/.exec(field)
  if (scoped) {
    const entry = sent[Number(scoped[1])]
    if (scoped[2] === 'branches') return 'branches'
    if (scoped[2] === 'branch_aliases') return 'aliases'
    return entry ? `perm:${entry.module}` : 'scope'
  }
  switch (field) {
    case 'name':
    case 'description':
    case 'scope':
      return field
    case 'expires_on':
      return 'date'
    case 'is_email_notification_enabled':
      return 'notify'
    case 'rate_limit.read':
      return 'read'
    case 'rate_limit.write':
      return 'write'
    case 'rate_limit':
      return 'limits'
    default:
      return 'form'
  }
}

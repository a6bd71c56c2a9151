import { useEffect, useState } from 'preact/hooks'
import { ApiError } from './api'
import { tomorrowUtc } from './format'
import { expiryRules, type TokenPolicy } from './policy-model'
import { useApp } from './session'
import { emptyForm, formKeyOf, formOf, validate, type Errors, type FormState, type Perm } from './token-form-model'
import { MODULES, type IssuedToken, type RateLimit, type Token } from './types'
import { ErrorBanner, FieldError } from './ui'
import { useLoad } from './use-load'

interface Props {
  readonly apiKey: string
  readonly plan: RateLimit
  /** Absent: generate a new token. */
  readonly token?: Token
  /** Opened by "Extend expiry": the expiry date takes the focus. */
  readonly focusExpiry?: boolean
  readonly onGenerated: (t: IssuedToken) => void
  readonly onSaved: (notice: string) => void
  readonly onCancel: () => void
}

const PERMS: ReadonlyArray<[Perm, string]> = [
  ['none', 'None'],
  ['read', 'Read'],
  ['write', 'Read and write'],
]
const idOf = (module: string) => module.replace(/\$/g, '')

/** Generate and edit: the same form, mirroring the platform's "+ Management Token" page. */
export const TokenForm = ({ apiKey, plan, token, focusExpiry, onGenerated, onSaved, onCancel }: Props) => {
  const { request, now } = useApp()
  const [f, setF] = useState<FormState>(() => (token ? formOf(token) : emptyForm()))
  const [errors, setErrors] = useState<Errors>({})
  const [error, setError] = useState<unknown>()
  const [busy, setBusy] = useState(false)
  const set = <K extends keyof FormState>(k: K, v: FormState[K]) => setF((prev) => ({ ...prev, [k]: v }))
  const setPerm = (module: string, p: Perm) => setF((prev) => ({ ...prev, perms: { ...prev.perms, [module]: p } }))
  const editing = token !== undefined
  // The stack's rules, shown before submit; the service enforces them either way.
  const policy = useLoad(() => request<{ policy: TokenPolicy }>('GET', '/v3/stacks/management_token_policy', { apiKey }).then((r) => r.policy), [apiKey])
  const rules = policy.data ? expiryRules(policy.data) : []
  useEffect(() => {
    if (!focusExpiry) return
    const date = document.getElementById('tf-date')
    date?.scrollIntoView({ block: 'center' })
    date?.focus()
  }, [])

  const described = (key: string, hint?: string) => {
    const ids = [hint, errors[key] ? `tf-${key}-error` : undefined].filter(Boolean).join(' ')
    return { 'aria-describedby': ids || undefined, 'aria-invalid': errors[key] ? ('true' as const) : undefined }
  }

  const submit = async (e: Event) => {
    e.preventDefault()
    setError(undefined)
    const checked = validate(f, plan, now(), token)
    setErrors(checked.errors)
    if (!checked.body) return focusFirstError()
    setBusy(true)
    try {
      if (token) {
        const res = await request<{ notice: string }>('PUT', `/v3/stacks/management_tokens/${token.uid}`, { apiKey, body: { token: checked.body } })
        onSaved(res.notice)
      } else {
        const res = await request<{ token: IssuedToken }>('POST', '/v3/stacks/management_tokens', { apiKey, body: { token: checked.body } })
        onGenerated(res.token)
      }
    } catch (err) {
      if (err instanceof ApiError && !err.expired && Object.keys(err.fields).length > 0) {
        const mapped: Errors = {}
        for (const [field, messages] of Object.entries(err.fields)) (mapped[formKeyOf(field, checked.body.scope)] ??= []).push(...messages)
        setErrors(mapped)
        if (mapped.form) setError(err)
        focusFirstError()
      } else {
        setError(err)
      }
    } finally {
      setBusy(false)
    }
  }

  return (
    <form class="panel token-form" onSubmit={submit} noValidate aria-labelledby="token-form-title">
      <h2 id="token-form-title">{editing ? `Edit ${token.name}` : 'Generate a management token'}</h2>

      <label for="tf-name">Name</label>
      <input id="tf-name" required maxLength={200} value={f.name} onInput={(e) => set('name', e.currentTarget.value)} {...described('name')} />
      <FieldError id="tf-name-error" messages={errors.name} />

      <label for="tf-description">Description (optional)</label>
      <input id="tf-description" maxLength={1000} value={f.description} onInput={(e) => set('description', e.currentTarget.value)} {...described('description')} />
      <FieldError id="tf-description-error" messages={errors.description} />

      <fieldset>
        <legend>Branch scope</legend>
        <div class="choices">
          <label>
            <input type="radio" name="tf-branch-mode" checked={f.branchMode === 'main'} onChange={() => set('branchMode', 'main')} /> The main branch only (default)
          </label>
          <label>
            <input
              type="radio"
              name="tf-branch-mode"
              checked={f.branchMode === 'specific'}
              onChange={() =>
                setF((prev) => ({ ...prev, branchMode: 'specific', perms: { ...prev.perms, branch: prev.perms.branch === 'none' ? 'read' : (prev.perms.branch ?? 'read') } }))
              }
            />{' '}
            Specific branches
          </label>
        </div>
        {f.branchMode === 'specific' ? (
          <>
            <label for="tf-branches">Branches (comma-separated)</label>
            <input id="tf-branches" value={f.branches} placeholder="main, development" onInput={(e) => set('branches', e.currentTarget.value)} {...described('branches')} />
            <FieldError id="tf-branches-error" messages={errors.branches} />
          </>
        ) : null}
        <label for="tf-aliases">Branch aliases (comma-separated, optional)</label>
        <input
          id="tf-aliases"
          value={f.aliases}
          placeholder="deploy"
          onInput={(e) => {
            const v = e.currentTarget.value
            setF((prev) => ({ ...prev, aliases: v, perms: { ...prev.perms, branch_alias: v.trim() && prev.perms.branch_alias === 'none' ? 'read' : (prev.perms.branch_alias ?? 'none') } }))
          }}
          {...described('aliases')}
        />
        <FieldError id="tf-aliases-error" messages={errors.aliases} />
      </fieldset>

      <fieldset aria-describedby={errors.scope ? 'tf-scope-error' : undefined}>
        <legend>Permissions per module</legend>
        <FieldError id="tf-scope-error" messages={errors.scope} />
        <div class="perm-grid">
          {MODULES.map((m) => {
            const key = `perm:${m.id}`
            const id = idOf(m.id)
            return (
              <fieldset key={m.id} class="perm-row" id={`tf-perm-${id}`} aria-describedby={errors[key] ? `tf-perm-${id}-error` : undefined}>
                <legend>
                  {m.label}
                  {m.readOnly ? <span class="muted"> (read-only)</span> : null}
                </legend>
                <div class="choices">
                  {PERMS.map(([p, label]) => (
                    <label key={p}>
                      <input
                        type="radio"
                        id={`tf-perm-${id}-${p}`}
                        name={`tf-perm-${id}`}
                        value={p}
                        checked={(f.perms[m.id] ?? 'none') === p}
                        disabled={(p === 'write' && m.readOnly) || undefined}
                        onChange={() => setPerm(m.id, p)}
                      />{' '}
                      {label}
                    </label>
                  ))}
                </div>
                <FieldError id={`tf-perm-${id}-error`} messages={errors[key]} />
              </fieldset>
            )
          })}
        </div>
      </fieldset>

      <fieldset aria-describedby={rules.length > 0 ? 'tf-policy' : undefined}>
        <legend>Expiry</legend>
        {rules.length > 0 ? (
          <p class="notice" id="tf-policy">
            {rules.join(' ')}
          </p>
        ) : null}
        <div class="choices">
          <label>
            <input type="radio" name="tf-expiry" checked={f.expiryMode === 'never'} onChange={() => setF((prev) => ({ ...prev, expiryMode: 'never', notify: false }))} /> Never
          </label>
          <label>
            <input type="radio" name="tf-expiry" checked={f.expiryMode === 'date'} onChange={() => set('expiryMode', 'date')} /> On a date (UTC)
          </label>
        </div>
        {/* The service's refusal of "Never" under the stack policy: the date field is not shown. */}
        {f.expiryMode === 'never' ? <FieldError id="tf-date-error" messages={errors.date} /> : null}
        {f.expiryMode === 'date' ? (
          <>
            <label for="tf-date">Expiry date (UTC; the token stops at 00:00 UTC that day)</label>
            <input id="tf-date" type="date" min={tomorrowUtc(now())} value={f.date} onInput={(e) => set('date', e.currentTarget.value)} {...described('date')} />
            <FieldError id="tf-date-error" messages={errors.date} />
            <label class="check">
              <input type="checkbox" checked={f.notify} onChange={(e) => set('notify', e.currentTarget.checked)} {...described('notify')} /> Notify via email 7 days before
            </label>
            <FieldError id="tf-notify-error" messages={errors.notify} />
          </>
        ) : null}
      </fieldset>

      <fieldset aria-describedby={errors.limits ? 'tf-limits-error' : undefined}>
        <legend>Rate limits</legend>
        <div class="choices">
          <label>
            <input type="radio" name="tf-limits" checked={f.limitMode === 'plan'} onChange={() => set('limitMode', 'plan')} /> Plan limit (default): {plan.read} reads/s,{' '}
            {plan.write} writes/s
          </label>
          <label>
            <input
              type="radio"
              name="tf-limits"
              checked={f.limitMode === 'custom'}
              onChange={() => setF((prev) => ({ ...prev, limitMode: 'custom', read: prev.read || String(plan.read), write: prev.write || String(plan.write) }))}
            />{' '}
            Custom
          </label>
        </div>
        <FieldError id="tf-limits-error" messages={errors.limits} />
        {f.limitMode === 'custom' ? (
          <div class="inline">
            <div>
              <label for="tf-read">Reads per second (at most {plan.read})</label>
              <input id="tf-read" type="number" min={1} max={plan.read} step={1} inputMode="numeric" value={f.read} onInput={(e) => set('read', e.currentTarget.value)} {...described('read')} />
              <FieldError id="tf-read-error" messages={errors.read} />
            </div>
            <div>
              <label for="tf-write">Writes per second (at most {plan.write})</label>
              <input id="tf-write" type="number" min={1} max={plan.write} step={1} inputMode="numeric" value={f.write} onInput={(e) => set('write', e.currentTarget.value)} {...described('write')} />
              <FieldError id="tf-write-error" messages={errors.write} />
            </div>
          </div>
        ) : null}
      </fieldset>

      <ErrorBanner error={error} />
      <div class="actions">
        <button type="submit" disabled={busy}>
          {editing ? 'Save changes' : 'Generate token'}
        </button>
        <button type="button" class="secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  )
}

/** Moves focus to the first control marked invalid, once the errors have rendered. */
const focusFirstError = () =>
  requestAnimationFrame(() => {
    const el = document.querySelector<HTMLElement>('.token-form [aria-invalid="true"], .token-form .perm-row[aria-describedby] input')
    el?.focus()
  })

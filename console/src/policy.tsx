import { useState } from 'preact/hooks'
import { ApiError } from './api'
import { formOfPolicy, policyOfForm, ruleLines, type PolicyForm, type TokenPolicy } from './policy-model'
import { useApp } from './session'
import type { Stack } from './types'
import { ErrorBanner, FieldError, Notice } from './ui'
import { useLoad } from './use-load'

type NumberField = 'max_lifetime_days' | 'inactive_days' | 'default_rotation_grace_seconds'
const NUMBERS: ReadonlyArray<[NumberField, string, number, number]> = [
  ['max_lifetime_days', 'Maximum token lifetime, in days (1 to 3650; empty: no limit)', 1, 3650],
  ['inactive_days', 'Inactivity period, in days (7 to 3650; empty: none)', 7, 3650],
  ['default_rotation_grace_seconds', 'Default rotation grace, in seconds (0 to 604800; empty: 0)', 0, 604800],
]

/** The stack's token policy: the owner edits it, admins read it. */
export const PolicyPage = ({ stack }: { stack: Stack }) => {
  const { request } = useApp()
  const apiKey = stack.api_key
  const owner = stack.role === 'owner'
  const [form, setForm] = useState<PolicyForm>()
  const [fields, setFields] = useState<Record<string, string[]>>({})
  const [error, setError] = useState<unknown>()
  const [notice, setNotice] = useState<string>()
  const policy = useLoad(
    () =>
      request<{ policy: TokenPolicy }>('GET', '/v3/stacks/management_token_policy', { apiKey }).then((r) => {
        setForm(formOfPolicy(r.policy))
        return r.policy
      }),
    [apiKey],
  )
  const set = <K extends keyof PolicyForm>(k: K, v: PolicyForm[K]) => setForm((f) => (f ? { ...f, [k]: v } : f))
  const save = async (e: Event) => {
    e.preventDefault()
    if (!form) return
    setError(undefined)
    setFields({})
    setNotice(undefined)
    try {
      const res = await request<{ notice: string }>('PUT', '/v3/stacks/management_token_policy', { apiKey, body: { policy: policyOfForm(form) } })
      setNotice(res.notice)
      await policy.reload()
    } catch (err) {
      if (err instanceof ApiError) setFields(err.fields)
      setError(err)
    }
  }
  const errorsOf = (k: string) => fields[`policy.${k}`]
  const lines = policy.data ? ruleLines(policy.data) : []
  return (
    <section aria-labelledby="policy-title">
      <h2 id="policy-title">Token policy</h2>
      <Notice text={notice} />
      <ErrorBanner error={policy.error} />
      <ErrorBanner error={error} />
      {policy.data ? (
        <ul class="rows" aria-label="Rules in force">
          {lines.length === 0 ? <li class="row">No rules: tokens may live as long as their creators choose.</li> : lines.map((l) => <li key={l} class="row">{l}</li>)}
        </ul>
      ) : null}
      {owner && form ? (
        <form class="panel" onSubmit={save} aria-labelledby="policy-form-title" noValidate>
          <h3 id="policy-form-title">Change the rules</h3>
          <label class="check">
            <input type="checkbox" checked={form.require_expiry} onChange={(e) => set('require_expiry', e.currentTarget.checked)} /> Every token must have an expiry
          </label>
          <FieldError id="pf-require_expiry-error" messages={errorsOf('require_expiry')} />
          {NUMBERS.map(([k, label, min, max]) => (
            <div key={k}>
              <label for={`pf-${k}`}>{label}</label>
              <input
                id={`pf-${k}`}
                type="number"
                inputMode="numeric"
                min={min}
                max={max}
                step={1}
                value={form[k]}
                aria-invalid={errorsOf(k) ? 'true' : undefined}
                aria-describedby={errorsOf(k) ? `pf-${k}-error` : undefined}
                onInput={(e) => set(k, e.currentTarget.value)}
              />
              <FieldError id={`pf-${k}-error`} messages={errorsOf(k)} />
            </div>
          ))}
          <p class="muted">A token made before a shorter maximum lifetime stops working until its expiry is edited to fit.</p>
          <button type="submit">Save policy</button>
        </form>
      ) : (
        <p class="muted">Only the stack's owner can change the token policy.</p>
      )}
    </section>
  )
}

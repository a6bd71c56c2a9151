import { useState } from 'preact/hooks'
import { utcInstant } from './audit'
import { branchSummary, scopeSummary, utc } from './format'
import { useApp } from './session'
import type { AsOfToken, Stack } from './types'
import { ErrorBanner, FieldError } from './ui'

const STATUS: Record<AsOfToken['status'], string> = { active: 'Active', expired: 'Expired', revoked: 'Revoked' }

/** Every token's state at an instant: who could write on 1 March? */
export const AsOfPage = ({ stack }: { stack: Stack }) => {
  const { request } = useApp()
  const [at, setAt] = useState('')
  const [result, setResult] = useState<{ as_of: string; tokens: AsOfToken[] }>()
  const [error, setError] = useState<unknown>()
  const [fieldError, setFieldError] = useState<string[]>()
  const show = async (e: Event) => {
    e.preventDefault()
    setError(undefined)
    setFieldError(undefined)
    if (!at) return setFieldError(['Choose a date and time (UTC).'])
    try {
      setResult(await request('GET', '/v3/audit-logs/as-of', { apiKey: stack.api_key, query: { at: utcInstant(at) } }))
    } catch (err) {
      const f = (err as { fields?: Record<string, string[]> }).fields?.at
      if (f) setFieldError(f)
      else setError(err)
    }
  }
  const writers = result?.tokens.filter((t) => t.status === 'active' && t.scope.some((s) => s.acl.write)) ?? []
  return (
    <section aria-labelledby="asof-title">
      <h2 id="asof-title">Tokens as of an instant</h2>
      <form class="panel inline" onSubmit={show} noValidate>
        <div>
          <label for="asof-at">Instant (UTC)</label>
          <input
            id="asof-at"
            type="datetime-local"
            value={at}
            aria-invalid={fieldError ? 'true' : undefined}
            aria-describedby={fieldError ? 'asof-at-error' : undefined}
            onInput={(e) => setAt(e.currentTarget.value)}
          />
          <FieldError id="asof-at-error" messages={fieldError} />
        </div>
        <div class="actions">
          <button type="submit">Show tokens then</button>
        </div>
      </form>
      <ErrorBanner error={error} />
      {result ? (
        <>
          <p role="status">
            As of {utc(result.as_of)}: {result.tokens.length} token(s); {writers.length} active with write access
            {writers.length ? ` (${writers.map((w) => w.name).join(', ')})` : ''}.
          </p>
          <table class="stacked">
            <caption class="sr-only">Token states as of {utc(result.as_of)}</caption>
            <thead>
              <tr>
                <th scope="col">Token</th>
                <th scope="col">State</th>
                <th scope="col">Scope</th>
                <th scope="col">Branches</th>
                <th scope="col">Expiry</th>
                <th scope="col">Last change</th>
              </tr>
            </thead>
            <tbody>
              {result.tokens.map((t) => (
                <tr key={t.uid}>
                  <td data-label="Token">{t.name}</td>
                  <td data-label="State">
                    {STATUS[t.status]}
                    {t.revoked_at ? ` on ${utc(t.revoked_at)}` : ''}
                  </td>
                  <td data-label="Scope">{scopeSummary(t.scope)}</td>
                  <td data-label="Branches">{branchSummary(t.scope)}</td>
                  <td data-label="Expiry">{t.expires_on ? utc(t.expires_on) : 'Never'}</td>
                  <td data-label="Last change">{utc(t.last_changed_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}
    </section>
  )
}

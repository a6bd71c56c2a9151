import { useState } from 'preact/hooks'
import { branchSummary, expiry, limits, scopeSummary, utc } from './format'
import { go, href } from './router'
import { SecretPanel } from './secret-panel'
import { useApp } from './session'
import { RevokeDialog, RotateDialog } from './token-actions'
import { TokenForm } from './token-form'
import type { IssuedToken, Stack, Token } from './types'
import { ErrorBanner, Notice } from './ui'
import { useLoad } from './use-load'

interface Shown {
  readonly secret: string
  readonly name: string
  readonly rotated: boolean
}

/** Live tokens, "N of 30", generate / edit / rotate / revoke (owner and admins only). */
export const TokensPage = ({ stack, route }: { stack: Stack; route: string[] }) => {
  const { request, session, now } = useApp()
  const apiKey = stack.api_key
  const tokens = useLoad(() => request<{ tokens: Token[] }>('GET', '/v3/stacks/management_tokens', { apiKey }).then((r) => r.tokens), [apiKey])
  const [shown, setShown] = useState<Shown>()
  const [notice, setNotice] = useState<string>()
  const [rotating, setRotating] = useState<Token>()
  const [revoking, setRevoking] = useState<Token>()
  const plan = stack.plan
  const max = plan?.max_tokens ?? 0
  const list = tokens.data ?? []
  const full = list.length >= max
  const issued = (t: IssuedToken, rotated: boolean) => {
    setShown({ secret: t.token, name: t.name, rotated })
    void tokens.reload()
  }
  const who = (uid: string) => (uid === session.uid ? 'you' : uid)

  if (!plan) return <p class="error" role="alert">The service did not report this stack's plan limits.</p>

  if (route[0] === 'new' || route[1] === 'edit') {
    const editing = route[1] === 'edit' ? list.find((t) => t.uid === route[0]) : undefined
    if (route[1] === 'edit' && !editing) return tokens.loading ? <p role="status">Loading…</p> : <p class="error" role="alert">No live token {route[0]}.</p>
    if (!editing && full && tokens.data) return <LimitReached max={max} />
    return (
      <TokenForm
        key={editing?.uid ?? 'new'}
        apiKey={apiKey}
        plan={plan.rate_limit}
        token={editing}
        onGenerated={(t) => {
          go('stacks', apiKey, 'tokens')
          issued(t, false)
        }}
        onSaved={(n) => {
          setNotice(n)
          go('stacks', apiKey, 'tokens')
          void tokens.reload()
        }}
        onCancel={() => go('stacks', apiKey, 'tokens')}
      />
    )
  }

  return (
    <section aria-labelledby="tokens-title">
      <div class="heading-row">
        <h2 id="tokens-title">Management tokens</h2>
        <p class="count" aria-live="polite">
          {list.length} of {max} tokens
        </p>
        <button type="button" disabled={full || !tokens.data} onClick={() => go('stacks', apiKey, 'tokens', 'new')} aria-describedby={full ? 'limit-reached' : undefined}>
          + Management token
        </button>
      </div>
      {full ? <LimitReached max={max} /> : null}
      <Notice text={notice} />
      <ErrorBanner error={tokens.error} />
      {tokens.data && list.length === 0 ? (
        <div class="empty">
          <p>
            <strong>No management tokens yet.</strong>
          </p>
          <p>
            A management token lets a script or a service call this stack's management API without a person's sign-in: it carries its own
            permissions per module, branches, an optional expiry and rate limits. Its secret is shown once, when it is generated.
          </p>
        </div>
      ) : null}
      <ul class="cards" aria-label="Live management tokens">
        {list.map((t) => (
          <li class="card token" key={t.uid}>
            <h3>{t.name}</h3>
            {t.description ? <p>{t.description}</p> : null}
            <dl class="facts">
              <dt>Scope</dt>
              <dd>{scopeSummary(t.scope)}</dd>
              <dt>Branches</dt>
              <dd>{branchSummary(t.scope)}</dd>
              <dt>Expiry</dt>
              <dd>
                {expiry(t.expires_on, now())}
                {t.expires_on ? <span class="muted"> ({utc(t.expires_on)})</span> : null}
              </dd>
              <dt>Email notification</dt>
              <dd>{t.is_email_notification_enabled ? 'On' : 'Off'}</dd>
              <dt>Rate limits</dt>
              <dd>{limits(t.rate_limit, plan.rate_limit)}</dd>
              <dt>Created</dt>
              <dd>
                by {who(t.created_by)} on {utc(t.created_at)}
              </dd>
              <dt>Last rotation</dt>
              <dd>{t.last_rotated_at ? utc(t.last_rotated_at) : 'Never rotated'}</dd>
            </dl>
            <div class="actions">
              <a class="button secondary" href={href('stacks', apiKey, 'tokens', t.uid, 'edit')} aria-label={`Edit ${t.name}`}>
                Edit
              </a>
              <button type="button" class="secondary" aria-label={`Rotate ${t.name}`} onClick={() => setRotating(t)}>
                Rotate
              </button>
              <button type="button" class="danger" aria-label={`Revoke ${t.name}`} onClick={() => setRevoking(t)}>
                Revoke
              </button>
            </div>
          </li>
        ))}
      </ul>
      {rotating ? (
        <RotateDialog
          apiKey={apiKey}
          token={rotating}
          onClose={() => setRotating(undefined)}
          onRotated={(t) => {
            setRotating(undefined)
            issued(t, true)
          }}
        />
      ) : null}
      {revoking ? (
        <RevokeDialog
          apiKey={apiKey}
          token={revoking}
          onClose={() => setRevoking(undefined)}
          onRevoked={(n) => {
            setRevoking(undefined)
            setNotice(n)
            void tokens.reload()
          }}
        />
      ) : null}
      {shown ? <SecretPanel secret={shown.secret} apiKey={apiKey} name={shown.name} rotated={shown.rotated} onClose={() => setShown(undefined)} /> : null}
    </section>
  )
}

const LimitReached = ({ max }: { max: number }) => (
  <p class="warning" id="limit-reached" role="status">
    Limit reached: this stack has {max} live tokens, the most it may have. Revoke one to generate another.
  </p>
)

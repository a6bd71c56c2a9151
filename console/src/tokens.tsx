import { useState } from 'preact/hooks'
import { go } from './router'
import { SecretPanel } from './secret-panel'
import { useApp } from './session'
import { RevokeDialog, RotateDialog } from './token-actions'
import { TokenCard } from './token-card'
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
  const { request, session } = useApp()
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
        focusExpiry={route[2] === 'expiry'}
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
          <TokenCard
            key={t.uid}
            apiKey={apiKey}
            token={t}
            plan={plan.rate_limit}
            who={who}
            onRotate={() => setRotating(t)}
            onRevoke={() => setRevoking(t)}
            onGraceEnded={(n) => {
              setNotice(n)
              void tokens.reload()
            }}
          />
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

import { useState } from 'preact/hooks'
import { go, href } from './router'
import { SecretPanel } from './secret-panel'
import { useApp } from './session'
import { RevokeDialog, RotateDialog } from './token-actions'
import { TokenCard } from './token-card'
import { TokenForm } from './token-form'
import { TokenTable } from './token-table'
import { LimitReached, ListHeading, NoTokens } from './tokens-heading'
import type { Counts, IssuedToken, Stack, StackUsageRow, Token } from './types'
import { UsageView } from './usage-view'
import { ErrorBanner, Notice } from './ui'
import { useLoad } from './use-load'

interface Shown {
  readonly secret: string
  readonly name: string
  readonly rotated: boolean
}

const DAY = 86_400_000

/**
 * Live tokens as a table with "N of 30"; a token's own page (its facts, actions and usage);
 * generate / edit / rotate / revoke (owner and admins only).
 */
export const TokensPage = ({ stack, route }: { stack: Stack; route: string[] }) => {
  const { request, session, now } = useApp()
  const apiKey = stack.api_key
  const tokens = useLoad(() => request<{ tokens: Token[] }>('GET', '/v3/stacks/management_tokens', { apiKey }).then((r) => r.tokens), [apiKey])
  const usage = useLoad(() => {
    const to = now()
    const query = { from: new Date(to - DAY).toISOString(), to: new Date(to).toISOString() }
    return request<{ usage: StackUsageRow[] }>('GET', '/v3/stacks/management_tokens/usage', { apiKey, query }).then(
      (r) => new Map<string, Counts>(r.usage.map((u) => [u.token_uid, u.totals])),
    )
  }, [apiKey, tokens.data])
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

  const opened = route[0] ? list.find((t) => t.uid === route[0]) : undefined
  if (route[0] && !opened) return tokens.loading ? <p role="status">Loading…</p> : <p class="error" role="alert">No live token {route[0]}.</p>

  return (
    <section aria-labelledby={opened ? 'token-detail-name' : 'tokens-title'}>
      {opened ? null : <ListHeading count={list.length} max={max} ready={!!tokens.data} onGenerate={() => go('stacks', apiKey, 'tokens', 'new')} />}
      <Notice text={notice} />
      <ErrorBanner error={tokens.error} />
      {tokens.data && list.length === 0 && !opened ? <NoTokens /> : null}
      {opened ? (
        <>
          <p>
            <a href={href('stacks', apiKey, 'tokens')}>← All tokens</a>
          </p>
          <TokenCard
            apiKey={apiKey}
            token={opened}
            plan={plan.rate_limit}
            who={who}
            onRotate={() => setRotating(opened)}
            onRevoke={() => setRevoking(opened)}
            onGraceEnded={(n) => {
              setNotice(n)
              void tokens.reload()
            }}
          />
          <UsageView apiKey={apiKey} token={opened} />
        </>
      ) : list.length > 0 ? (
        <>
          <TokenTable apiKey={apiKey} tokens={list} now={now()} usage={usage.data} />
          {usage.error ? <p class="muted">Request counts are not available: {usage.error instanceof Error ? usage.error.message : String(usage.error)}</p> : null}
        </>
      ) : null}
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
            go('stacks', apiKey, 'tokens')
            void tokens.reload()
          }}
        />
      ) : null}
      {shown ? <SecretPanel secret={shown.secret} apiKey={apiKey} name={shown.name} rotated={shown.rotated} onClose={() => setShown(undefined)} /> : null}
    </section>
  )
}

import { useState } from 'preact/hooks'
import { branchSummary, expiry, hasExpired, limits, scopeSummary, utc } from './format'
import { Ago, LastUsed } from './last-used'
import { href } from './router'
import { useApp } from './session'
import type { RateLimit, Token } from './types'
import { ErrorBanner } from './ui'

interface Props {
  readonly apiKey: string
  readonly token: Token
  readonly plan: RateLimit
  readonly who: (uid: string) => string
  readonly onRotate: () => void
  readonly onRevoke: () => void
  /** The grace was ended: the service's notice. */
  readonly onGraceEnded: (notice: string) => void
}

/**
 * One live token, opened from the table: its facts and last use, a running rotation grace with
 * the previous secret's last use and "End grace now", and its actions.
 * An expired token offers "Extend expiry" instead of Rotate: the service refuses to rotate it.
 */
export const TokenCard = ({ apiKey, token: t, plan, who, onRotate, onRevoke, onGraceEnded }: Props) => {
  const { request, now } = useApp()
  const [error, setError] = useState<unknown>()
  const [busy, setBusy] = useState(false)
  const expired = hasExpired(t.expires_on, now())
  const graceUntil = t.previous_secret_expires_at && Date.parse(t.previous_secret_expires_at) > now() ? t.previous_secret_expires_at : undefined
  const endGrace = async () => {
    setError(undefined)
    setBusy(true)
    try {
      const res = await request<{ notice: string }>('DELETE', `/v3/stacks/management_tokens/${t.uid}/previous_secret`, { apiKey })
      onGraceEnded(res.notice)
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }
  return (
    <div class="card token">
      <h2 id="token-detail-name">{t.name}</h2>
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
        <dd>{limits(t.rate_limit, plan)}</dd>
        <dt>Created</dt>
        <dd>
          by {who(t.created_by)} on {utc(t.created_at)}
        </dd>
        <dt>Last used</dt>
        <dd>
          <LastUsed at={t.last_used_at} from={t.last_used_from} now={now()} />
        </dd>
        <dt>Last rotation</dt>
        <dd>{t.last_rotated_at ? utc(t.last_rotated_at) : 'Never rotated'}</dd>
      </dl>
      {graceUntil ? (
        <p class="warning grace">
          <span>
            Previous secret valid until {utc(graceUntil)}
            {t.previous_secret_last_used_at ? (
              <>
                ; last used <Ago iso={t.previous_secret_last_used_at} now={now()} />
              </>
            ) : t.previous_secret_last_used_at === null ? (
              '; not used since the rotation'
            ) : null}
          </span>
          <button type="button" class="secondary" disabled={busy} aria-label={`End grace now for ${t.name}`} onClick={() => void endGrace()}>
            End grace now
          </button>
        </p>
      ) : null}
      <ErrorBanner error={error} />
      <div class="actions">
        <a class="button secondary" href={href('stacks', apiKey, 'tokens', t.uid, 'edit')} aria-label={`Edit ${t.name}`}>
          Edit
        </a>
        {expired ? (
          <a class="button secondary" href={href('stacks', apiKey, 'tokens', t.uid, 'edit', 'expiry')} aria-label={`Extend expiry of ${t.name}`}>
            Extend expiry
          </a>
        ) : (
          <button type="button" class="secondary" aria-label={`Rotate ${t.name}`} onClick={onRotate}>
            Rotate
          </button>
        )}
        <button type="button" class="danger" aria-label={`Revoke ${t.name}`} onClick={onRevoke}>
          Revoke
        </button>
      </div>
    </div>
  )
}

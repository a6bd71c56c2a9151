import { useState } from 'preact/hooks'
import { useApp } from './session'
import type { IssuedToken, Token } from './types'
import { Dialog, ErrorBanner, FieldError } from './ui'

const DAY_SECONDS = 86_400

/** Rotate with a grace period of 0 to 7 days; the new secret goes to `onRotated` (shown once). */
export const RotateDialog = (props: { apiKey: string; token: Token; onClose: () => void; onRotated: (t: IssuedToken) => void }) => {
  const { request } = useApp()
  const [days, setDays] = useState('0')
  const [error, setError] = useState<unknown>()
  const [fieldError, setFieldError] = useState<string[]>()
  const n = Number(days)
  const valid = /^\d$/.test(days) && n >= 0 && n <= 7
  const rotate = async (e: Event) => {
    e.preventDefault()
    if (!valid) return setFieldError(['Choose a whole number of days from 0 to 7.'])
    setError(undefined)
    setFieldError(undefined)
    try {
      const res = await request<{ token: IssuedToken }>('POST', `/v3/stacks/management_tokens/${props.token.uid}/rotate`, {
        apiKey: props.apiKey,
        body: { previous_expires_in_seconds: n * DAY_SECONDS },
      })
      props.onRotated(res.token)
    } catch (err) {
      const f = (err as { fields?: Record<string, string[]> }).fields?.previous_expires_in_seconds
      if (f) setFieldError(f)
      else setError(err)
    }
  }
  return (
    <Dialog id="rotate-dialog" title={`Rotate ${props.token.name}`} onClose={props.onClose}>
      <form onSubmit={rotate} noValidate>
        <p>A new secret replaces the current one. Same token, scope, limits and expiry.</p>
        <label for="rotate-grace">Old secret keeps working for (days, 0 to 7)</label>
        <input
          id="rotate-grace"
          type="number"
          min={0}
          max={7}
          step={1}
          inputMode="numeric"
          value={days}
          aria-invalid={fieldError || !valid ? 'true' : undefined}
          aria-describedby="rotate-grace-hint rotate-grace-error"
          onInput={(e) => setDays(e.currentTarget.value)}
        />
        <p class="muted" id="rotate-grace-hint">
          0 stops the old secret at once.
        </p>
        <FieldError id="rotate-grace-error" messages={fieldError ?? (valid ? undefined : ['Choose a whole number of days from 0 to 7.'])} />
        <ErrorBanner error={error} />
        <div class="actions">
          <button type="submit" disabled={!valid}>
            Rotate
          </button>
          <button type="button" class="secondary" onClick={props.onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  )
}

/** Revoke, after typing the token's name, as the platform asks. Revocation is final. */
export const RevokeDialog = (props: { apiKey: string; token: Token; onClose: () => void; onRevoked: (notice: string) => void }) => {
  const { request } = useApp()
  const [typed, setTyped] = useState('')
  const [error, setError] = useState<unknown>()
  const matches = typed === props.token.name
  const revoke = async (e: Event) => {
    e.preventDefault()
    if (!matches) return
    setError(undefined)
    try {
      const res = await request<{ notice: string }>('DELETE', `/v3/stacks/management_tokens/${props.token.uid}`, { apiKey: props.apiKey })
      props.onRevoked(res.notice)
    } catch (err) {
      setError(err)
    }
  }
  return (
    <Dialog id="revoke-dialog" title={`Revoke ${props.token.name}`} onClose={props.onClose}>
      <form onSubmit={revoke}>
        <p class="warning">Revoking is final: every request with this token is refused from now on.</p>
        <label for="revoke-name">
          Type <strong>{props.token.name}</strong> to confirm
        </label>
        <input id="revoke-name" autocomplete="off" value={typed} onInput={(e) => setTyped(e.currentTarget.value)} />
        <ErrorBanner error={error} />
        <div class="actions">
          <button type="submit" class="danger" disabled={!matches}>
            Revoke token
          </button>
          <button type="button" class="secondary" onClick={props.onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  )
}

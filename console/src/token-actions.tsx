import { useState } from 'preact/hooks'
import { useApp } from './session'
import type { IssuedToken, Token } from './types'
import { Dialog, ErrorBanner, FieldError } from './ui'

const HOUR_SECONDS = 3600
/** The service's longest grace, 7 days, in hours. */
const MAX_HOURS = 168
const GRACE_RULE = `Choose a whole number of hours from 0 to ${MAX_HOURS} (7 days).`

/** Rotate with a grace period in hours, 24 proposed; the new secret goes to `onRotated` (shown once). */
export const RotateDialog = (props: { apiKey: string; token: Token; onClose: () => void; onRotated: (t: IssuedToken) => void }) => {
  const { request } = useApp()
  const [hours, setHours] = useState('24')
  const [error, setError] = useState<unknown>()
  const [fieldError, setFieldError] = useState<string[]>()
  const n = Number(hours)
  const valid = /^\d{1,3}$/.test(hours) && n <= MAX_HOURS
  const rotate = async (e: Event) => {
    e.preventDefault()
    if (!valid) return setFieldError([GRACE_RULE])
    setError(undefined)
    setFieldError(undefined)
    try {
      const res = await request<{ token: IssuedToken }>('POST', `/v3/stacks/management_tokens/${props.token.uid}/rotate`, {
        apiKey: props.apiKey,
        body: { previous_expires_in_seconds: n * HOUR_SECONDS },
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
        <label for="rotate-grace">Old secret keeps working for (hours, 0 to {MAX_HOURS})</label>
        <input
          id="rotate-grace"
          type="number"
          min={0}
          max={MAX_HOURS}
          step={1}
          inputMode="numeric"
          value={hours}
          aria-invalid={fieldError || !valid ? 'true' : undefined}
          aria-describedby="rotate-grace-hint rotate-grace-error"
          onInput={(e) => setHours(e.currentTarget.value)}
        />
        <p class="muted" id="rotate-grace-hint">
          24 hours gives scripts a day to switch; 0 stops the old secret at once. The grace can be ended early from the token.
        </p>
        <FieldError id="rotate-grace-error" messages={fieldError ?? (valid ? undefined : [GRACE_RULE])} />
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

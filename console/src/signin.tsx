import { useState } from 'preact/hooks'
import type { Request } from './api'
import { emailOf, subOf, type AuthMode, type Session } from './session'
import { ErrorBanner } from './ui'

interface Props {
  readonly mode: AuthMode
  readonly request: Request
  readonly onSignedIn: (s: Session) => void
  /** Shown when an earlier sign-in stopped being accepted. */
  readonly expired?: boolean
  /** OIDC after expiry: pick up the session signed in again in another tab. */
  readonly onResume?: () => Promise<boolean>
}

interface UserSession {
  readonly user: { readonly uid: string; readonly email: string; readonly authtoken: string }
}

/** Development email form, OpenID Connect button, or a pasted authtoken (docs/console-api.md). */
export const SignIn = ({ mode, request, onSignedIn, expired, onResume }: Props) => {
  const [email, setEmail] = useState('')
  const [pasted, setPasted] = useState('')
  const [error, setError] = useState<unknown>()
  const [fieldError, setFieldError] = useState<string[]>()
  const [busy, setBusy] = useState(false)

  const devSignIn = async (e: Event) => {
    e.preventDefault()
    setBusy(true)
    setError(undefined)
    setFieldError(undefined)
    try {
      const res = await request<UserSession>('POST', '/v3/user-session', { body: { user: { email } }, anonymous: true })
      onSignedIn({ authtoken: res.user.authtoken, email: res.user.email, uid: res.user.uid })
    } catch (err) {
      const fe = (err as { fields?: Record<string, string[]> }).fields?.email
      if (fe) setFieldError(fe)
      else setError(err)
    } finally {
      setBusy(false)
    }
  }

  const pasteSignIn = async (e: Event) => {
    e.preventDefault()
    const token = pasted.trim()
    setError(undefined)
    // The service verifies it: listing stacks with it either works or says why not.
    try {
      const probe = await fetch('/v3/stacks', { headers: { authtoken: token, accept: 'application/json' }, cache: 'no-store' })
      if (!probe.ok) throw new Error('The service does not accept this authtoken.')
      setPasted('')
      onSignedIn({ authtoken: token, email: emailOf(token), uid: subOf(token) })
    } catch (err) {
      setError(err)
    }
  }

  return (
    <section class="signin" aria-labelledby="signin-title">
      <h1 id="signin-title">Sign in to the management-token console</h1>
      {expired ? (
        <p class="warning" role="alert">
          Your sign-in has expired. Sign in again to continue; what you typed is kept.
        </p>
      ) : null}
      {mode === 'development' ? (
        <form onSubmit={devSignIn} noValidate>
          <p class="muted">Development mode: any email address signs in; no password.</p>
          <label for="signin-email">Email</label>
          <input
            id="signin-email"
            type="email"
            autocomplete="email"
            required
            value={email}
            aria-invalid={fieldError ? 'true' : undefined}
            aria-describedby={fieldError ? 'signin-email-error' : undefined}
            onInput={(e) => setEmail(e.currentTarget.value)}
          />
          {fieldError ? (
            <p class="field-error" id="signin-email-error">
              {fieldError.join('; ')}
            </p>
          ) : null}
          <button type="submit" disabled={busy}>
            Sign in
          </button>
        </form>
      ) : null}
      {mode === 'oidc' && !expired ? (
        <p>
          <a class="button" href="/console/auth/login">
            Sign in with your identity provider
          </a>
        </p>
      ) : null}
      {mode === 'oidc' && expired ? (
        <>
          <p>
            Leaving this page would lose what you typed, so sign in again in a new tab, then come back here.
          </p>
          <div class="actions">
            <a class="button" href="/console/auth/login" target="_blank" rel="noopener">
              Sign in again (opens a new tab)
            </a>
            <button
              type="button"
              class="secondary"
              onClick={async () => {
                setError(undefined)
                if (onResume && !(await onResume())) setError(new Error('No new sign-in yet: finish signing in in the other tab first.'))
              }}
            >
              I have signed in: continue
            </button>
          </div>
        </>
      ) : null}
      {mode === 'external' ? (
        <form onSubmit={pasteSignIn}>
          <p class="muted">Paste an authtoken issued by your identity provider. It stays in this tab's memory only.</p>
          <label for="signin-token">Authtoken</label>
          <textarea id="signin-token" rows={4} value={pasted} autocomplete="off" spellcheck={false} onInput={(e) => setPasted(e.currentTarget.value)} />
          <button type="submit">Sign in</button>
        </form>
      ) : null}
      <ErrorBanner error={error} />
    </section>
  )
}

import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { createRequest } from './api'
import { useRoute } from './router'
import { Ctx, subOf, type AuthMode, type Session } from './session'
import { SignIn } from './signin'
import { StackPage } from './stack'
import { StacksPage } from './stacks'
import { ErrorBanner } from './ui'

interface OidcSession {
  readonly authtoken: string
  readonly email: string
}

/**
 * The whole console. The authtoken lives in this component's state (memory). When the service
 * stops accepting it, the pages stay mounted (inert) behind a sign-in dialog, so no form loses
 * what was typed; after signing in again the user carries on where they were.
 */
export const App = () => {
  const [mode, setMode] = useState<AuthMode>()
  const [bootError, setBootError] = useState<unknown>()
  const [session, setSession] = useState<Session>()
  const [expired, setExpired] = useState(false)
  const tokenRef = useRef<string | undefined>(undefined)
  tokenRef.current = expired ? undefined : session?.authtoken
  const request = useMemo(() => createRequest(() => tokenRef.current, () => setExpired(true)), [])
  const route = useRoute()

  useEffect(() => {
    void (async () => {
      try {
        const cfg = await request<{ mode: AuthMode }>('GET', '/console/auth/config', { anonymous: true })
        setMode(cfg.mode)
        if (cfg.mode === 'oidc') await resumeOidc()
      } catch (err) {
        setBootError(err)
      }
    })()
  }, [])

  /** After the IdP's redirect: the server holds the id_token under an HttpOnly cookie. */
  const resumeOidc = async (): Promise<boolean> => {
    try {
      const s = await request<OidcSession>('POST', '/console/auth/session', { anonymous: true, body: {} })
      // The token the service just refused is no way out of an expired sign-in.
      if (expired && s.authtoken === session?.authtoken) return false
      signedIn({ authtoken: s.authtoken, email: s.email, uid: subOf(s.authtoken) })
      return true
    } catch {
      return false
    }
  }

  const signedIn = (s: Session) => {
    setSession(s)
    setExpired(false)
  }

  const signOut = async () => {
    if (mode === 'oidc') await request('POST', '/console/auth/logout', { anonymous: true, body: {} }).catch(() => undefined)
    setSession(undefined)
    setExpired(false)
    location.hash = '#/'
  }

  useEffect(() => {
    // In OIDC mode a still-valid server session may give a fresh token without leaving the page.
    if (expired && mode === 'oidc') void resumeOidc()
  }, [expired])

  if (bootError) return <main class="container"><ErrorBanner error={bootError} /></main>
  if (!mode) return <main class="container"><p role="status">Loading…</p></main>
  if (!session)
    return (
      <main class="container">
        <SignIn mode={mode} request={request} onSignedIn={signedIn} />
      </main>
    )

  const [section, apiKey, ...rest] = route
  return (
    <Ctx.Provider value={{ request, session, mode, now: Date.now }}>
      <div class="shell" inert={expired ? true : undefined} aria-hidden={expired ? 'true' : undefined}>
        <header class="topbar">
          <a class="brand" href="#/">
            Management tokens
          </a>
          <span class="who">
            Signed in as <strong>{session.email || session.uid}</strong>
          </span>
          <button type="button" class="secondary" onClick={() => void signOut()}>
            Sign out
          </button>
        </header>
        <main class="container" id="main">
          {section === 'stacks' && apiKey ? <StackPage apiKey={apiKey} route={rest} /> : <StacksPage />}
        </main>
      </div>
      {expired ? (
        <div class="overlay">
          <div class="overlay-box" role="dialog" aria-modal="true" aria-labelledby="signin-title">
            <SignIn mode={mode} request={request} onSignedIn={signedIn} expired onResume={resumeOidc} />
          </div>
        </div>
      ) : null}
    </Ctx.Provider>
  )
}

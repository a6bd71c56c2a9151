import { createContext } from 'preact'
import { useContext } from 'preact/hooks'
import type { Request } from './api'

/** Who is signed in. Kept in memory only: never localStorage, sessionStorage or a URL. */
export interface Session {
  readonly authtoken: string
  readonly email: string
  readonly uid: string
}

export type AuthMode = 'development' | 'oidc' | 'external'

export interface AppContext {
  readonly request: Request
  readonly session: Session
  readonly mode: AuthMode
  /** Date.now, injectable for tests of relative times. */
  readonly now: () => number
}

export const Ctx = createContext<AppContext | undefined>(undefined)

export const useApp = (): AppContext => {
  const c = useContext(Ctx)
  if (!c) throw new Error('useApp outside the signed-in app')
  return c
}

/** The `sub` claim of a JWT (the user uid); the token itself was verified by the service. */
export const subOf = (jwt: string): string => {
  try {
    const part = jwt.split('.')[1] ?? ''
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'))
    const claims = JSON.parse(json) as { sub?: unknown; email?: unknown }
    return typeof claims.sub === 'string' ? claims.sub : ''
  } catch {
    return ''
  }
}

export const emailOf = (jwt: string): string => {
  try {
    const part = jwt.split('.')[1] ?? ''
    const claims = JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/'))) as { email?: unknown }
    return typeof claims.email === 'string' ? claims.email : ''
  } catch {
    return ''
  }
}

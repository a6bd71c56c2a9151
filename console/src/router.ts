import { useEffect, useState } from 'preact/hooks'

/**
 * Hash routing: `#/stacks/blt.../tokens`. Routes hold stack keys and token uids, never a
 * secret or an authtoken (those live in component state only).
 */
export const currentRoute = (): string[] => location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent)

export const useRoute = (): string[] => {
  const [route, setRoute] = useState(currentRoute)
  useEffect(() => {
    const on = () => setRoute(currentRoute())
    addEventListener('hashchange', on)
    return () => removeEventListener('hashchange', on)
  }, [])
  return route
}

export const href = (...parts: string[]): string => `#/${parts.map(encodeURIComponent).join('/')}`
export const go = (...parts: string[]): void => {
  location.hash = href(...parts)
}

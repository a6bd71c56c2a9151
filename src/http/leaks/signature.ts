import { type KeyObject, verify } from 'node:crypto'
import type { ScanningKeys } from '../../scanning-keys.js'
import { keyListOf } from '../../scanning-keys.js'
import { unavailable } from '../errors.js'

/** Least time between two fetches of the key list for an unknown key identifier. */
const REFETCH_MS = 60_000
const FETCH_TIMEOUT_MS = 5_000

/** The keys that may have signed a report naming `id`. */
export interface KeySource {
  keysFor(id: string): Promise<ReadonlyMap<string, KeyObject>>
}

/**
 * A PEM bundle's keys, or the key list at a URL: fetched on the first signed report, and again
 * when a report names a key it does not hold (a rotation), at most once a minute. An unreachable
 * list with no copy yet is a 503, which a reporter retries.
 */
export const keySource = (setting: ScanningKeys, clock: () => Date): KeySource => {
  if ('keys' in setting) return { keysFor: async () => setting.keys }
  let keys: ReadonlyMap<string, KeyObject> | undefined
  let fetchedAt = -Infinity
  let inFlight: Promise<void> | undefined
  const refresh = async () => {
    fetchedAt = clock().getTime()
    try {
      const res = await fetch(setting.url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), redirect: 'error' })
      const list = res.ok ? keyListOf(await res.json()) : { problem: `answered ${res.status}` }
      if ('problem' in list) throw new Error(`the secret-scanning key list ${list.problem}`)
      keys = list
    } catch (e) {
      if (keys === undefined) throw unavailable(`The secret-scanning key list could not be read (${(e as Error).message}); try again shortly.`)
    }
  }
  return {
    async keysFor(id) {
      if (keys === undefined || (!keys.has(id) && clock().getTime() - fetchedAt >= REFETCH_MS)) {
        inFlight ??= refresh().finally(() => {
          inFlight = undefined
        })
        await inFlight
      }
      return keys as ReadonlyMap<string, KeyObject>
    },
  }
}

/** Whether `signature` (base64 DER, as GitHub sends it) is the key's ECDSA P-256 / SHA-256 signature of the exact body bytes. */
export const verifies = (key: KeyObject | undefined, signature: string, body: Buffer): boolean => {
  if (key === undefined) return false
  try {
    return verify('sha256', body, { key, dsaEncoding: 'der' }, Buffer.from(signature, 'base64'))
  } catch {
    return false
  }
}

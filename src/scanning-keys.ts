import { createHash, createPublicKey, type KeyObject } from 'node:crypto'

/**
 * SECRET_SCANNING_PUBLIC_KEYS: the keys that sign leaked-secret reports (GitHub's secret
 * scanning), either given here as a PEM bundle or fetched from a URL serving GitHub's key list
 * (`{public_keys: [{key_identifier, key, is_current}]}`). Only ECDSA P-256 keys are accepted.
 */
export type ScanningKeys = { readonly url: string } | { readonly keys: ReadonlyMap<string, KeyObject> }

/** A PEM bundle's key is named by the SHA-256 of its DER SubjectPublicKeyInfo, in lower-case hex. */
export const keyIdentifier = (key: KeyObject): string => createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex')

/** The P-256 public key in `pem`, or what is wrong with it. */
export const p256Key = (pem: string): KeyObject | { readonly problem: string } => {
  let key: KeyObject
  try {
    key = createPublicKey(pem)
  } catch {
    return { problem: 'holds a block that is not a PEM public key' }
  }
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? key : { problem: 'holds a key that is not ECDSA P-256' }
}

const PEM_BLOCK = /-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])

/** The setting's keys or key-list URL, or what is wrong with it (never echoing the value). */
export const parseScanningKeys = (raw: string): ScanningKeys | { readonly problem: string } => {
  const value = raw.trim()
  if (/^[a-z]+:\/\//i.test(value)) {
    let url: URL
    try {
      url = new URL(value)
    } catch {
      return { problem: 'must be a URL or a PEM bundle' }
    }
    return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname)) ? { url: url.href } : { problem: 'must be an https URL (http only on localhost)' }
  }
  const blocks = value.match(PEM_BLOCK) ?? []
  if (blocks.length === 0) return { problem: 'must be a PEM bundle of ECDSA P-256 public keys (-----BEGIN PUBLIC KEY-----) or the https URL of a key list' }
  const keys = new Map<string, KeyObject>()
  for (const block of blocks) {
    const key = p256Key(block)
    if ('problem' in key) return key
    keys.set(keyIdentifier(key), key)
  }
  return { keys }
}

/** The keys of a key list in GitHub's format, by `key_identifier`, or what is wrong with it. */
export const keyListOf = (json: unknown): ReadonlyMap<string, KeyObject> | { readonly problem: string } => {
  const list = (json as { public_keys?: unknown } | null)?.public_keys
  if (!Array.isArray(list)) return { problem: 'has no public_keys array' }
  const keys = new Map<string, KeyObject>()
  for (const entry of list as unknown[]) {
    const { key_identifier: id, key: pem } = (entry ?? {}) as { key_identifier?: unknown; key?: unknown }
    if (typeof id !== 'string' || typeof pem !== 'string') return { problem: 'has an entry without a string key_identifier and key' }
    const key = p256Key(pem)
    if ('problem' in key) return key
    keys.set(id, key)
  }
  return keys
}

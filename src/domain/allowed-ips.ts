import { isIP, SocketAddress } from 'node:net'
import * as E from 'fp-ts/lib/Either.js'
import { domainError, type DomainError, type FieldErrors } from './errors.js'

/** Most entries in a token's `allowed_ips`. */
export const MAX_ALLOWED_IPS = 50

export type Family = 'ipv4' | 'ipv6'
/** An address in its one spelling: IPv4 dotted, IPv6 compressed lower case (RFC 5952), IPv4-mapped IPv6 as IPv4. */
export interface Address {
  readonly family: Family
  readonly address: string
}

const MAPPED = [0, 0, 0, 0, 0, 0xffff]

/** The 16-bit words of a valid IPv6 address (an IPv4 tail becomes two words). */
const words = (a: string): number[] => {
  const colon = a.lastIndexOf(':')
  let text = a
  const tail = a.slice(colon + 1)
  if (tail.includes('.')) {
    const [w, x, y, z] = tail.split('.').map(Number) as [number, number, number, number]
    text = `${a.slice(0, colon + 1)}${((w << 8) | x).toString(16)}:${((y << 8) | z).toString(16)}`
  }
  const [head = '', rest] = text.split('::')
  const hex = (s: string) => (s === '' ? [] : s.split(':').map((h) => parseInt(h, 16)))
  const left = hex(head)
  const right = rest === undefined ? [] : hex(rest)
  return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right]
}

const v4Text = (w6: number, w7: number) => `${w6 >> 8}.${w6 & 0xff}.${w7 >> 8}.${w7 & 0xff}`

/**
 * An address as it is compared and stored, or undefined when `text` is not exactly an address
 * (no spaces, no zone, no port). An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) is its IPv4
 * address: it reaches the service from that IPv4 client (a dual-stack socket reports it so).
 */
export const canonicalAddress = (text: string): Address | undefined => {
  const v = isIP(text)
  if (v === 4) return { family: 'ipv4', address: text }
  if (v !== 6 || text.includes('%')) return undefined
  const w = words(text)
  if (MAPPED.every((x, i) => w[i] === x)) return { family: 'ipv4', address: v4Text(w[6] as number, w[7] as number) }
  return { family: 'ipv6', address: new SocketAddress({ address: text, family: 'ipv6' }).address }
}

/** A canonical entry: an address, or a network with its prefix length (host bits zero). */
export interface Entry extends Address {
  readonly prefix: number
}

/** The text an entry is stored as: a bare address for a single host, else `network/prefix`. */
export const entryText = (e: Entry): string => (e.prefix === (e.family === 'ipv4' ? 32 : 128) ? e.address : `${e.address}/${e.prefix}`)

const bitsOf = (a: Address): number[] => {
  const parts = a.family === 'ipv4' ? a.address.split('.').map(Number) : words(a.address).flatMap((x) => [x >> 8, x & 0xff])
  return parts.flatMap((byte) => Array.from({ length: 8 }, (_, i) => (byte >> (7 - i)) & 1))
}

/**
 * One entry of `allowed_ips`, or why it is refused. A network with host bits set (`10.0.0.5/8`)
 * is refused rather than widened: it may mean the host or the network, and guessing the wider
 * one grants more than may have been meant.
 */
export const parseEntry = (text: string): Entry | string => {
  const slash = text.indexOf('/')
  const addressText = slash === -1 ? text : text.slice(0, slash)
  const prefixText = slash === -1 ? undefined : text.slice(slash + 1)
  let address = canonicalAddress(addressText)
  if (address === undefined) return 'is not an IPv4 or IPv6 address or CIDR range'
  const mappedV6 = address.family === 'ipv4' && isIP(addressText) === 6
  const max = mappedV6 ? 128 : address.family === 'ipv4' ? 32 : 128
  if (prefixText !== undefined && !/^(0|[1-9]\d{0,2})$/.test(prefixText)) return 'has a prefix length that is not a plain number (0 to 128, no sign or leading zero)'
  let prefix = prefixText === undefined ? max : Number(prefixText)
  if (prefix > max) return `has a prefix length above ${max}`
  if (mappedV6) {
    // An IPv4-mapped range below /96 also covers IPv6 addresses that are not mapped: say so.
    if (prefix < 96) return 'covers IPv4-mapped and other IPv6 addresses at once; list the IPv4 range instead'
    prefix -= 96
  }
  const bits = bitsOf(address)
  if (bits.slice(prefix).some((b) => b === 1)) {
    const network = [...bits.slice(0, prefix), ...Array<number>(bits.length - prefix).fill(0)]
    address = fromBits(address.family, network)
    return `has host bits set; the network is ${entryText({ ...address, prefix })}`
  }
  return { ...address, prefix }
}

const fromBits = (family: Family, bits: number[]): Address => {
  const bytes = Array.from({ length: bits.length / 8 }, (_, i) => bits.slice(i * 8, i * 8 + 8).reduce((n, b) => (n << 1) | b, 0))
  if (family === 'ipv4') return { family, address: bytes.join('.') }
  const hex = Array.from({ length: 8 }, (_, i) => (((bytes[2 * i] as number) << 8) | (bytes[2 * i + 1] as number)).toString(16)).join(':')
  return { family, address: new SocketAddress({ address: hex, family: 'ipv6' }).address }
}

/**
 * `allowed_ips` as stored: each entry canonical, in the order given. Refused (422 naming the
 * entry, `allowed_ips[3]`): more than MAX_ALLOWED_IPS entries, an entry that is not exactly an
 * address or a CIDR range, and an entry equal to an earlier one once both are canonical.
 */
export const validateAllowedIps = (list: readonly string[]): E.Either<DomainError, string[]> => {
  if (list.length > MAX_ALLOWED_IPS)
    return E.left(domainError('validation', `allowed_ips: may list at most ${MAX_ALLOWED_IPS} entries (got ${list.length})`, { allowed_ips: [`must list at most ${MAX_ALLOWED_IPS} entries`] }))
  const errors: FieldErrors = {}
  const seen = new Map<string, number>()
  const out: string[] = []
  list.forEach((raw, i) => {
    const at = `allowed_ips[${i}]`
    const e = typeof raw === 'string' ? parseEntry(raw) : 'must be a string'
    if (typeof e === 'string') {
      errors[at] = [e]
      return
    }
    const text = entryText(e)
    const earlier = seen.get(text)
    if (earlier !== undefined) errors[at] = [`repeats allowed_ips[${earlier}] (${text})`]
    else seen.set(text, i)
    out.push(text)
  })
  const first = Object.keys(errors)[0]
  return first === undefined ? E.right(out) : E.left(domainError('validation', `${first}: ${errors[first]?.[0]}`, errors))
}

/** Two lists allow the same addresses when they hold the same canonical entries, in any order. */
export const sameAllowedIps = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && [...a].sort().join(',') === [...b].sort().join(',')

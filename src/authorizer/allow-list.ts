import { BlockList } from 'node:net'
import { canonicalAddress, parseEntry } from '../domain/allowed-ips.js'

/**
 * A token's `allowed_ips`, compiled once per cached token row. IPv4 and IPv6 entries go into
 * separate lists and an address is checked against its own family's only: BlockList alone would
 * let `::/0` match every IPv4 address and `10.0.0.0/8` match some IPv6 ones. An IPv4-mapped
 * address (`::ffff:10.0.0.1`, as a dual-stack socket reports IPv4 peers) is its IPv4 address.
 */
export class AllowList {
  private readonly v4 = new BlockList()
  private readonly v6 = new BlockList()

  constructor(entries: readonly string[]) {
    for (const text of entries) {
      const e = parseEntry(text)
      // Stored entries were validated when recorded; one that no longer parses allows nothing.
      if (typeof e === 'string') continue
      const list = e.family === 'ipv4' ? this.v4 : this.v6
      list.addSubnet(e.address, e.prefix, e.family)
    }
  }

  /** Whether `address` (the trusted client address, if any) is on the list; no address never is. */
  allows(address: string | undefined): boolean {
    if (address === undefined) return false
    const a = canonicalAddress(address)
    if (a === undefined) return false
    return (a.family === 'ipv4' ? this.v4 : this.v6).check(a.address, a.family)
  }

  /** The column's JSON, or null when the token has no list (no check at all). */
  static of(json: string | null): AllowList | null {
    return json === null ? null : new AllowList(JSON.parse(json) as string[])
  }
}

import * as E from 'fp-ts/lib/Either.js'
import fc from 'fast-check'
import ipaddr from 'ipaddr.js'
import t from 'tap'
import { AllowList } from '../../src/authorizer/allow-list.js'
import { canonicalAddress, MAX_ALLOWED_IPS, parseEntry, validateAllowedIps } from '../../src/domain/allowed-ips.js'

const refused = (list: readonly string[]) => {
  const r = validateAllowedIps(list)
  return E.isLeft(r) ? r.left.errors : undefined
}
const stored = (list: readonly string[]) => {
  const r = validateAllowedIps(list)
  if (E.isLeft(r)) throw new Error(r.left.message)
  return r.right
}

t.test('malformed entries are refused, each named by its index', async (t) => {
  const bad = ['10.0.0.0/33', '1.2.3', '::g', '', ' 10.0.0.1', '10.0.0.1 ', '10.0.0.0/', '10.0.0.0/-1', '10.0.0.0/08', '10.0.0.0/8/8', '::/129', 'fe80::1%eth0', '010.0.0.1', '10.0.0.1:80', 'localhost', '::ffff:0:0/95']
  for (const entry of bad) {
    const errors = refused(['192.0.2.1', entry])
    t.ok(errors?.['allowed_ips[1]'], `${JSON.stringify(entry)} refused as allowed_ips[1]`)
  }
  t.match(refused(['10.0.0.0/33'])?.['allowed_ips[0]'], [/prefix length above 32/])
})

t.test('a network with host bits set is refused, naming the network', async (t) => {
  t.same(refused(['10.0.0.5/8']), { 'allowed_ips[0]': ['has host bits set; the network is 10.0.0.0/8'] })
  t.same(refused(['2001:db8::1/64']), { 'allowed_ips[0]': ['has host bits set; the network is 2001:db8::/64'] })
})

t.test('entries are stored canonical: bare addresses, compressed lower-case IPv6, mapped IPv4 as IPv4', async (t) => {
  t.same(
    stored(['10.0.0.1/32', '10.0.0.0/8', '2001:DB8:0:0:0:0:0:0/32', '2001:db8::1/128', '::FFFF:192.0.2.7', '::ffff:c000:200/120', '0.0.0.0/0', '::/0']),
    ['10.0.0.1', '10.0.0.0/8', '2001:db8::/32', '2001:db8::1', '192.0.2.7', '192.0.2.0/24', '0.0.0.0/0', '::/0'],
  )
  t.same(stored([]), [], 'empty: any address')
})

t.test('at most 50 entries; duplicates (once canonical) are refused', async (t) => {
  const many = Array.from({ length: MAX_ALLOWED_IPS + 1 }, (_, i) => `10.0.${i}.0/24`)
  t.ok(E.isRight(validateAllowedIps(many.slice(0, MAX_ALLOWED_IPS))), '50 entries')
  t.same(refused(many), { allowed_ips: ['must list at most 50 entries'] }, '51 entries')
  t.same(refused(['10.0.0.1', '10.0.0.1/32']), { 'allowed_ips[1]': ['repeats allowed_ips[0] (10.0.0.1)'] })
  t.same(refused(['2001:db8::1', '2001:DB8:0::1']), { 'allowed_ips[1]': ['repeats allowed_ips[0] (2001:db8::1)'] })
})

t.test('IPv4-mapped IPv6 addresses match their IPv4 entries and nothing else', async (t) => {
  const ten = new AllowList(['10.0.0.0/8'])
  t.ok(ten.allows('::ffff:10.0.0.1'), '::ffff:10.0.0.1 is in 10.0.0.0/8')
  t.ok(ten.allows('::FFFF:a00:1'), 'also written in hex')
  t.notOk(ten.allows('::a00:1'), 'an IPv4-compatible (not mapped) address is IPv6')
  t.notOk(ten.allows('::ffff:11.0.0.1'))
  const allV6 = new AllowList(['::/0'])
  t.notOk(allV6.allows('10.0.0.1'), '::/0 is every IPv6 address, not IPv4 ones')
  t.notOk(allV6.allows('::ffff:10.0.0.1'), 'nor mapped ones')
  t.ok(allV6.allows('2001:db8::5'))
  t.notOk(new AllowList(['0.0.0.0/0']).allows('2001:db8::5'), '0.0.0.0/0 is every IPv4 address, not IPv6 ones')
  t.notOk(ten.allows(undefined), 'no address: not allowed')
  t.notOk(ten.allows('10.0.0.1, 10.0.0.2'), 'not an address: not allowed')
})

/** ipaddr.js, an independent parser, as the reference for what a list allows. */
const reference = (entries: readonly string[], address: string): boolean => {
  let a = ipaddr.parse(address)
  if (a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress()) a = (a as ipaddr.IPv6).toIPv4Address()
  return entries.some((e) => {
    const [net, bits] = e.includes('/') ? ipaddr.parseCIDR(e) : [ipaddr.parse(e), e.includes(':') ? 128 : 32]
    return net.kind() === a.kind() && a.match(net, bits)
  })
}

const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join('.'))
const v6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((w) => w.map((x) => x.toString(16)).join(':'))
const mapped = v4.map((a) => `::ffff:${a}`)
/** Addresses near each other, so that ranges and addresses often meet. */
const near = fc.oneof(v4.map((a) => `10.0.${a.split('.').slice(2).join('.')}`), v6.map((a) => `2001:db8::${a.split(':').slice(6).join(':')}`))
const address = fc.oneof(v4, v6, mapped, near, near.filter((a) => !a.includes(':')).map((a) => `::ffff:${a}`))
const network = (a: string, bits: number) => {
  const c = canonicalAddress(a) as NonNullable<ReturnType<typeof canonicalAddress>>
  const b = Math.min(bits, c.family === 'ipv4' ? 32 : 128)
  const n = c.family === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(`${c.address}/${b}`) : ipaddr.IPv6.networkAddressFromCIDR(`${c.address}/${b}`)
  return `${n.toString()}/${b}`
}
const entry = fc.oneof(address, fc.tuple(address, fc.oneof(fc.nat(24), fc.nat(128))).map(([a, b]) => network(a, b)))

t.test('what a list allows agrees with an independent reference (fast-check)', async (t) => {
  const seen = { allowed: 0, denied: 0 }
  fc.assert(
    fc.property(fc.uniqueArray(entry, { maxLength: 6, selector: (e) => JSON.stringify(parseEntry(e)) }), address, (entries, client) => {
      const list = stored(entries)
      const allowed = new AllowList(list).allows(client)
      seen[allowed ? 'allowed' : 'denied']++
      return allowed === reference(list, client)
    }),
    { numRuns: 2000, seed: 20261207 },
  )
  t.ok(seen.allowed > 100 && seen.denied > 100, `both answers were compared (${seen.allowed} allowed, ${seen.denied} denied)`)
})

t.test('canonical entries parse back to themselves (fast-check)', async (t) => {
  fc.assert(
    fc.property(entry, (e) => {
      const once = stored([e])
      return JSON.stringify(stored(once)) === JSON.stringify(once)
    }),
  )
  t.pass('stable')
})

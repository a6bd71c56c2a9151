import t from 'tap'
import { AUDIT_KIND } from '../../projections/audit-log.js'
import { PROJECTIONS } from '../../projections/index.js'
import { eventsAudit, typesOf } from '../../src/read/events-audit.js'
import { tableAudit, type AuditEntry, type AuditFilter } from '../../src/read/queries.js'
import { projectedHistory } from '../cli/fixtures/history.js'

t.test('the audit log read from the event store is, filter for filter, the audit-log projection', async (t) => {
  // Both from one history: the projection's table beside EventStoreDB, and the store's own rows.
  const { db, store } = await projectedHistory(t, PROJECTIONS)
  const table = tableAudit(db)
  const events = eventsAudit(store.connection)
  const stacks = db.prepare<[], string>('SELECT DISTINCT api_key FROM audit_log ORDER BY 1').pluck().all()
  t.ok(stacks.length >= 4, `${stacks.length} stacks`)
  const all = (apiKey: string) => table.audit(apiKey, { limit: 100_000, skip: 0 }).logs
  let compared = 0
  let entries = 0
  for (const apiKey of stacks) {
    const logs = all(apiKey)
    t.ok(logs.length > 0)
    const actors = [...new Set(logs.map((l) => l.created_by))]
    const emails = db.prepare<[string], string>('SELECT DISTINCT created_by_email FROM audit_log WHERE api_key = ? AND created_by_email IS NOT NULL').pluck().all(apiKey)
    const times = logs.map((l) => l.created_at).sort()
    const mid = times[Math.floor(times.length / 2)] as string
    const filters: Array<Omit<AuditFilter, 'limit' | 'skip'>> = [
      {},
      ...['stack', 'management_token', 'nope'].map((module) => ({ module })),
      ...[...new Set(Object.values(AUDIT_KIND).map((k) => k.event_type)), 'nope'].map((event_type) => ({ event_type })),
      { module: 'stack', event_type: 'update' },
      { module: 'management_token', event_type: 'update' },
      ...[...actors, ...emails, ...emails.map((e) => e.toUpperCase()), 'nobody'].map((actor) => ({ actor })),
      { from: mid },
      { to: mid },
      { from: times[0] as string, to: mid, module: 'management_token' },
      { from: mid, to: mid },
    ]
    for (const f of filters)
      for (const [limit, skip] of [[100_000, 0], [1, 0], [3, 2], [5, 1_000]] as const) {
        const q = { ...f, limit, skip }
        t.same(events.audit(apiKey, q), table.audit(apiKey, q), `${apiKey} ${JSON.stringify(q)}`)
        compared += 1
      }
    for (const l of logs) {
      t.same(events.auditEntry(apiKey, l.uid), l)
      entries += 1
    }
    t.equal(events.auditEntry(apiKey === stacks[0] ? (stacks[1] as string) : (stacks[0] as string), (logs[0] as AuditEntry).uid), undefined, "another stack's entry is not found")
  }
  t.equal(events.auditEntry(stacks[0] as string, 'no-such-uid'), undefined)
  const renames = db.prepare<[], number>(`SELECT COUNT(*) FROM audit_log WHERE event = 'TokenRenamed'`).pluck().get() as number
  t.ok(renames > 0, `${renames} renames among them (a title and what changed, from the events before)`)
  t.ok(compared > 100 && entries > 100, `${compared} queries and ${entries} entries compared`)
})

t.test('typesOf: the event types of a module and an event type', async (t) => {
  t.same(typesOf({ module: 'stack' }), ['StackCreated', 'MemberShared', 'MemberUnshared', 'OwnershipTransferred'])
  t.same(typesOf({ event_type: 'rotate' }), ['TokenRotated'])
  t.same(typesOf({ module: 'stack', event_type: 'rotate' }), [])
  t.equal(typesOf({}).length, Object.keys(AUDIT_KIND).length)
})

import t from 'tap'
import { AUDIT_KIND, EVENT_NAMES } from '../../projections/audit-log/kinds.js'
import { EVENT_TYPES } from '../../src/domain/events.js'
import { PROJECTIONS } from '../../projections/index.js'
import { eventsAudit, typesOf } from '../../projections/audit-log/events-audit.js'
import { tableAudit, type AuditEntry, type AuditFilter } from '../../projections/queries.js'
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
  t.same(typesOf({ module: 'stack' }), ['StackCreated', 'MemberShared', 'MemberUnshared', 'MemberRoleChanged', 'OwnershipTransferred', 'StackPolicySet'])
  t.same(typesOf({ event_type: 'update_role' }), ['MemberRoleChanged'])
  t.same(typesOf({ event_type: 'rotate' }), ['TokenRotated'])
  t.same(typesOf({ module: 'stack', event_type: 'rotate' }), [])
  t.equal(typesOf({}).length, Object.keys(AUDIT_KIND).length)
})

t.test('the actor filter finds the stack rows of the uid and of the email by index, on either source (EXPLAIN QUERY PLAN)', async (t) => {
  const { db, store } = await projectedHistory(t, PROJECTIONS)
  const stacks = db.prepare<[], string>('SELECT DISTINCT api_key FROM audit_log ORDER BY 1').pluck().all()
  const apiKey = stacks[0] as string
  const sources = [
    { name: 'events', conn: store.connection, source: eventsAudit(store.connection), params: { stream: `stack-${apiKey}` }, indexes: /SEARCH events USING (COVERING )?INDEX audit_by_actor \(stream=\? AND <expr>=\?\)[\s\S]*SEARCH events USING (COVERING )?INDEX audit_by_actor_email \(stream=\? AND <expr>=\?\)/ },
    { name: 'audit_log', conn: db, source: tableAudit(db), params: { apiKey }, indexes: /SEARCH audit_log USING (COVERING )?INDEX audit_log_by_actor \(api_key=\? AND created_by=\?\)[\s\S]*SEARCH audit_log USING (COVERING )?INDEX audit_log_by_actor_email \(api_key=\? AND created_by_email=\?\)/ },
  ]
  for (const { name, conn, source, params, indexes } of sources) {
    const actor = (source.audit(apiKey, { limit: 1, skip: 0 }).logs[0] as AuditEntry).created_by
    // The statements the query prepares, with what they are bound to.
    const seen: string[] = []
    const prepare = conn.prepare.bind(conn)
    conn.prepare = ((sql: string) => (seen.push(sql), prepare(sql))) as typeof conn.prepare
    const filters: Array<Omit<AuditFilter, 'limit' | 'skip'>> = [{ actor }, { actor: actor.toUpperCase(), module: 'management_token', from: '2000-01-01' }]
    try {
      for (const f of filters) source.audit(apiKey, { ...f, limit: 25, skip: 0 })
    } finally {
      conn.prepare = prepare
    }
    t.equal(seen.length, 4, `${name}: a page and a count per filter`)
    for (const sql of seen) {
      const bound = { ...params, actor, limit: 25, skip: 0, ...(sql.includes('@module') ? { module: 'management_token' } : {}), ...(sql.includes('@from') ? { from: '2000-01-01' } : {}) }
      const used = Object.fromEntries(Object.entries(bound).filter(([k]) => sql.includes(`@${k}`)))
      const plan = conn.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(used).map((r) => (r as { detail: string }).detail).join('\n')
      t.match(plan, indexes, `${name}: both indexes searched by stack and actor`)
      t.match(plan, /SEARCH \w+ USING INTEGER PRIMARY KEY \(rowid=\?\)/, `${name}: then the rows by position`)
      t.notMatch(plan, /SCAN|USING INDEX (sqlite_autoindex_events_2|audit_log_by_stack) /, `${name}: the stack's rows are not read one by one`)
    }
  }
})

t.test('the audit kinds list every event type, in the order of the catalogue (the CLI reads them without the codecs)', async (t) => {
  t.same(EVENT_NAMES, EVENT_TYPES)
})

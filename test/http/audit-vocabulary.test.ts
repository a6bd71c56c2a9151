/**
 * The audit log's vocabulary has one home (src/domain/audit.ts): each event's module and event
 * type, and the fields a single-field update changed. The entries the service lists, its filters
 * and its /docs must all say what that home says; this drives every kind of event through the
 * service and compares, entry by entry.
 */
import t from 'tap'
import { AUDIT_EVENT_TYPES, AUDIT_KIND, AUDIT_MODULES, UPDATED_FIELDS } from '../../src/domain/audit.js'
import { EVENT_TYPES, type EventType } from '../../src/domain/events.js'
import { stackStream } from '../../src/eventstore/streams.js'
import { ADMIN, DEVELOPER, OWNER, START, startApp } from '../support/app.js'
import { ManualScheduler, settle } from '../support/notifications.js'

const DAY = 86_400_000
const inDays = (n: number) => new Date(START.getTime() + n * DAY).toISOString()

interface Entry {
  readonly uid: string
  readonly module: string
  readonly event_type: string
  readonly metadata: { readonly changed?: string[] }
}

t.test('every event is listed under its module and event type, and the filters and /docs take that vocabulary', async (t) => {
  const scheduler = new ManualScheduler()
  const a = await startApp(t, { clock: true, scheduler })
  const apiKey = await a.createStack(OWNER)
  await a.share(apiKey, OWNER, ADMIN, ['admin'])
  await a.share(apiKey, OWNER, DEVELOPER, ['developer'])
  // The shortest inactivity rule is no longer than NOTIFY_BEFORE (7 days): a new token is notified at once too.
  t.equal((await a.call({ method: 'PUT', url: '/v3/stacks/management_token_policy', as: OWNER, apiKey, body: { policy: { inactive_days: 7 } } })).statusCode, 200)
  const { uid } = await a.generate(apiKey, OWNER, { name: 'ci', expires_on: inDays(3), is_email_notification_enabled: true })
  await settle(a, scheduler) // the expiry reactor records the notice, due at once, and the inactivity notice
  t.equal((await a.call({ method: 'PUT', url: '/v3/stacks/users/roles', as: OWNER, apiKey, body: { users: { [DEVELOPER]: ['content_manager'] } } })).statusCode, 200, 'roles changed')
  const put = (token: object) => a.call({ method: 'PUT', url: `/v3/stacks/management_tokens/${uid}`, as: OWNER, apiKey, body: { token } })
  for (const token of [{ name: 'ci-2' }, { scope: [{ module: 'asset', acl: { read: true } }] }, { expires_on: inDays(30) }, { rate_limit: { read: 1, write: 1 } }, { is_email_notification_enabled: false }, { allowed_ips: ['10.0.0.0/8'] }])
    t.equal((await put(token)).statusCode, 200, JSON.stringify(token))
  const posts = [
    ['/v3/stacks/unshare', { email: DEVELOPER }],
    [`/v3/stacks/management_tokens/${uid}/rotate`, { previous_expires_in_seconds: 3600 }],
    ['/v3/stacks/transfer_ownership', { transfer_to: ADMIN }],
  ] as const
  for (const [url, body] of posts) t.equal((await a.call({ method: 'POST', url, as: OWNER, apiKey, body })).statusCode, 200, url)
  t.equal((await a.call({ method: 'DELETE', url: `/v3/stacks/management_tokens/${uid}/previous_secret`, as: ADMIN, apiKey })).statusCode, 200, 'grace ended')
  const policy = await a.call({ method: 'PUT', url: '/v3/stacks/management_token_policy', as: ADMIN, apiKey, body: { policy: { max_lifetime_days: 365 } } })
  t.equal(policy.statusCode, 200, 'policy set by the new owner')
  t.equal((await a.call({ method: 'DELETE', url: `/v3/stacks/management_tokens/${uid}`, as: ADMIN, apiKey })).statusCode, 200, 'revoked')

  const events = await a.service.store.readStream(stackStream(apiKey))
  t.same([...new Set(events.map((e) => e.type))].sort(), [...EVENT_TYPES].sort(), 'every kind of event is in the history')
  const list = async (query = '') => (await a.call({ method: 'GET', url: `/v3/audit-logs?limit=100${query}`, as: ADMIN, apiKey })).json() as { logs: Entry[]; count: number }
  const byUid = new Map((await list()).logs.map((e) => [e.uid, e]))
  for (const e of events) {
    const type = e.type as EventType
    const entry = byUid.get(e.id)
    t.match(entry, AUDIT_KIND[type], `${type}: listed as ${AUDIT_KIND[type].module} / ${AUDIT_KIND[type].event_type}`)
    const fields = UPDATED_FIELDS[type]
    if (fields) t.same(entry?.metadata.changed, fields, `${type}: changed ${fields.join(', ')}`)
  }

  const listedAs = (k: 'module' | 'event_type', value: string) => events.filter((e) => AUDIT_KIND[e.type as EventType][k] === value).length
  for (const module of AUDIT_MODULES) t.equal((await list(`&module=${module}`)).count, listedAs('module', module), `module=${module}`)
  for (const type of AUDIT_EVENT_TYPES) {
    t.ok(listedAs('event_type', type) > 0, `${type} is the type of some event`)
    t.equal((await list(`&event_type=${type}`)).count, listedAs('event_type', type), `event_type=${type}`)
  }
  const refused = await a.call({ method: 'GET', url: '/v3/audit-logs?event_type=promote', as: ADMIN, apiKey })
  t.equal(refused.statusCode, 422, 'a type outside the vocabulary is refused')

  const doc = (await a.app.inject({ method: 'GET', url: '/docs/json' })).json() as {
    paths: Record<string, { get: { parameters: Array<{ name: string; schema: { enum?: string[] } }> } }>
  }
  const parameters = doc.paths['/v3/audit-logs']?.get.parameters ?? []
  t.same(parameters.find((p) => p.name === 'event_type')?.schema.enum, AUDIT_EVENT_TYPES, '/docs lists the event types')
  t.same(parameters.find((p) => p.name === 'module')?.schema.enum, AUDIT_MODULES, '/docs lists the modules')
})

import { useState } from 'preact/hooks'
import { changeLines } from './audit-change'
import { utc } from './format'
import { useApp } from './session'
import type { AuditEntry, Stack } from './types'
import { ErrorBanner } from './ui'
import { useLoad } from './use-load'

const PAGE = 25
/** The service's audit event types (src/domain/audit.ts); test/console/audit.test.ts holds this copy to that list. */
const EVENTS = ['create', 'update', 'delete', 'rotate', 'share', 'unshare', 'transfer_ownership', 'expiry_notice', 'update_role', 'end_rotation_grace', 'update_policy', 'inactivity_notice']

interface Filters {
  readonly module: string
  readonly event_type: string
  readonly actor: string
  readonly from: string
  readonly to: string
}
const NONE: Filters = { module: '', event_type: '', actor: '', from: '', to: '' }

/** `datetime-local` text read as UTC (the console shows every time in UTC). */
export const utcInstant = (local: string): string | undefined => (local ? new Date(`${local}:00Z`).toISOString() : undefined)

/** Token and membership changes, newest first, with filters and pages. */
export const AuditPage = ({ stack }: { stack: Stack }) => {
  const { request, session } = useApp()
  const [draft, setDraft] = useState<Filters>(NONE)
  const [applied, setApplied] = useState<Filters>(NONE)
  const [page, setPage] = useState(0)
  const logs = useLoad(
    () =>
      request<{ logs: AuditEntry[]; count: number }>('GET', '/v3/audit-logs', {
        apiKey: stack.api_key,
        query: {
          limit: PAGE,
          skip: page * PAGE,
          module: applied.module,
          event_type: applied.event_type,
          actor: applied.actor.trim(),
          from: utcInstant(applied.from),
          to: utcInstant(applied.to),
        },
      }),
    [stack.api_key, applied, page],
  )
  const pages = Math.max(1, Math.ceil((logs.data?.count ?? 0) / PAGE))
  const set = (k: keyof Filters, v: string) => setDraft((d) => ({ ...d, [k]: v }))
  const apply = (e: Event) => {
    e.preventDefault()
    setPage(0)
    setApplied(draft)
  }
  return (
    <section aria-labelledby="audit-title">
      <h2 id="audit-title">Audit log</h2>
      <form class="panel filters" onSubmit={apply} aria-label="Audit log filters">
        <div>
          <label for="audit-module">Module</label>
          <select id="audit-module" value={draft.module} onChange={(e) => set('module', e.currentTarget.value)}>
            <option value="">Any</option>
            <option value="management_token">Management token</option>
            <option value="stack">Stack</option>
          </select>
        </div>
        <div>
          <label for="audit-event">Event type</label>
          <select id="audit-event" value={draft.event_type} onChange={(e) => set('event_type', e.currentTarget.value)}>
            <option value="">Any</option>
            {EVENTS.map((ev) => (
              <option key={ev} value={ev}>
                {ev.replaceAll('_', ' ')}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="audit-actor">Actor (user uid)</label>
          <input id="audit-actor" value={draft.actor} placeholder={session.uid} onInput={(e) => set('actor', e.currentTarget.value)} />
        </div>
        <div>
          <label for="audit-from">From (UTC)</label>
          <input id="audit-from" type="datetime-local" value={draft.from} onInput={(e) => set('from', e.currentTarget.value)} />
        </div>
        <div>
          <label for="audit-to">To (UTC)</label>
          <input id="audit-to" type="datetime-local" value={draft.to} onInput={(e) => set('to', e.currentTarget.value)} />
        </div>
        <div class="actions">
          <button type="submit">Apply filters</button>
          <button
            type="button"
            class="secondary"
            onClick={() => {
              setDraft(NONE)
              setApplied(NONE)
              setPage(0)
            }}
          >
            Clear
          </button>
        </div>
      </form>
      <ErrorBanner error={logs.error} />
      {logs.data ? (
        <>
          <p class="muted" role="status">
            {logs.data.count} {logs.data.count === 1 ? 'entry' : 'entries'}, newest first · page {page + 1} of {pages}
          </p>
          {logs.data.logs.length === 0 ? (
            <p class="empty">No audit entries match these filters.</p>
          ) : (
            <table class="stacked">
              <caption class="sr-only">Audit log entries, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">When (UTC)</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Module</th>
                  <th scope="col">Event</th>
                  <th scope="col">Subject</th>
                  <th scope="col">Change</th>
                </tr>
              </thead>
              <tbody>
                {logs.data.logs.map((l) => (
                  <tr key={l.uid}>
                    <td data-label="When">{utc(l.created_at)}</td>
                    <td data-label="Actor">{l.created_by}</td>
                    <td data-label="Module">{l.module}</td>
                    <td data-label="Event">{l.event_type}</td>
                    <td data-label="Subject">
                      {l.metadata.title} <span class="muted">{l.metadata.uid}</span>
                    </td>
                    <td data-label="Change">
                      {changeLines(l).map((line) => (
                        <div key={line}>{line}</div>
                      ))}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <nav class="pager" aria-label="Audit log pages">
            <button type="button" class="secondary" disabled={page === 0} onClick={() => setPage((p) => p - 1)}>
              Previous page
            </button>
            <button type="button" class="secondary" disabled={page + 1 >= pages} onClick={() => setPage((p) => p + 1)}>
              Next page
            </button>
          </nav>
        </>
      ) : null}
    </section>
  )
}

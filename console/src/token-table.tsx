import { useState } from 'preact/hooks'
import { expiry, scopeSummary, utc } from './format'
import { LastUsed } from './last-used'
import { go, href } from './router'
import { FLAG_LABEL, filterByName, flags, nextSort, sortTokens, type Sort, type SortKey } from './token-list-model'
import { OUTCOMES, type Counts, type Token } from './types'

interface Props {
  readonly apiKey: string
  readonly tokens: readonly Token[]
  readonly now: number
  /** Each token's counts over the last 24 hours, when the service gave them. */
  readonly usage: ReadonlyMap<string, Counts> | undefined
}

const refused = (c: Counts) => OUTCOMES.reduce((n, o) => (o === 'allowed' ? n : n + c[o]), 0)

/** Live tokens as a compact table, one line each: searchable by name, sortable by name, expiry and last use. */
export const TokenTable = ({ apiKey, tokens, now, usage }: Props) => {
  const [query, setQuery] = useState('')
  const [sort, setSort] = useState<Sort>({ key: 'name', ascending: true })
  const shown = sortTokens(filterByName(tokens, query), sort)
  const header = (key: SortKey, label: string) => (
    <th scope="col" class={`c-${key}`} aria-sort={sort.key === key ? (sort.ascending ? 'ascending' : 'descending') : undefined}>
      <button type="button" class="sort" onClick={() => setSort(nextSort(sort, key))}>
        {label}
        <span aria-hidden="true">{sort.key === key ? (sort.ascending ? ' ▲' : ' ▼') : ' ↕'}</span>
      </button>
    </th>
  )
  return (
    <>
      <div class="filters">
        <div>
          <label for="token-search">Search by name</label>
          <input id="token-search" type="search" autocomplete="off" value={query} onInput={(e) => setQuery(e.currentTarget.value)} />
        </div>
        <p class="muted" role="status">
          {query.trim() ? `${shown.length} of ${tokens.length} tokens match` : ''}
        </p>
      </div>
      <table class="token-table" aria-label="Live management tokens">
        <thead>
          <tr>
            {header('name', 'Name')}
            <th scope="col" class="c-scope">
              Scope
            </th>
            {header('expiry', 'Expiry')}
            {header('last-used', 'Last used')}
            <th scope="col" class="c-usage">
              Requests, 24 h
            </th>
            <th scope="col" class="c-flags">
              Flags
            </th>
          </tr>
        </thead>
        <tbody>
          {shown.map((t) => {
            const scope = scopeSummary(t.scope)
            const c = usage?.get(t.uid)
            return (
              <tr key={t.uid} onClick={(e) => (e.target as Element).closest('a') || go('stacks', apiKey, 'tokens', t.uid)}>
                <td data-label="Name" class="c-name">
                  <a href={href('stacks', apiKey, 'tokens', t.uid)}>{t.name}</a>
                </td>
                <td data-label="Scope" class="c-scope" title={scope}>
                  {scope}
                </td>
                <td data-label="Expiry" class="c-expiry" title={t.expires_on ? utc(t.expires_on) : undefined}>
                  {expiry(t.expires_on, now)}
                </td>
                <td data-label="Last used" class="c-last-used">
                  <LastUsed at={t.last_used_at} from={t.last_used_from} now={now} />
                </td>
                <td data-label="Requests, 24 h" class="c-usage">
                  {c ? `${c.allowed} allowed${refused(c) ? `, ${refused(c)} refused` : ''}` : '–'}
                </td>
                <td data-label="Flags" class="c-flags">
                  {flags(t, now).map((f) => (
                    <span key={f} class={`flag flag-${f}`}>
                      {FLAG_LABEL[f]}
                    </span>
                  ))}
                </td>
              </tr>
            )
          })}
        </tbody>
      </table>
      {shown.length === 0 && tokens.length > 0 ? <p class="empty">No token's name holds “{query.trim()}”.</p> : null}
    </>
  )
}

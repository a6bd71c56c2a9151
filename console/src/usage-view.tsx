import { useApp } from './session'
import { OUTCOMES, type Token, type TokenUsage } from './types'
import { ErrorBanner } from './ui'
import { Legend, UsageChart } from './usage-chart'
import { bucketLabel, fillBuckets, lastWindow, OUTCOME_LABEL, total, type Window } from './usage-model'
import { useLoad } from './use-load'

const PERIODS = [
  { id: 'usage-24h', title: 'Last 24 hours, per hour (UTC)', granularity: 'hour', buckets: 24, unit: 'Hour (UTC)' },
  { id: 'usage-30d', title: 'Last 30 days, per day (UTC)', granularity: 'day', buckets: 30, unit: 'Day (UTC)' },
] as const

/** A token's requests by outcome over the last 24 hours and 30 days: a chart, its legend with totals, and the numbers as a table. */
export const UsageView = ({ apiKey, token }: { apiKey: string; token: Token }) => {
  const { request, now } = useApp()
  const data = useLoad(() => {
    const at = now()
    return Promise.all(
      PERIODS.map((p) => {
        const w = lastWindow(at, p.granularity, p.buckets)
        const query = { from: new Date(w.from).toISOString(), to: new Date(w.to).toISOString(), granularity: w.granularity }
        const path = `/v3/stacks/management_tokens/${token.uid}/usage`
        return request<{ usage: TokenUsage }>('GET', path, { apiKey, query }).then((r) => ({ ...p, usage: r.usage, window: w }))
      }),
    )
  }, [apiKey, token.uid])
  return (
    <section class="usage" aria-labelledby="usage-title">
      <h3 id="usage-title">Usage of {token.name}</h3>
      <p class="muted">Every decision about this token's secrets, by outcome: denied (scope, branch, address or policy), rate limited, expired, revoked (a revoked or rotated-out secret).</p>
      <ErrorBanner error={data.error} />
      {data.loading && !data.data ? <p role="status">Loading usage…</p> : null}
      {data.data?.map((p) => <Period key={p.id} {...p} />)}
    </section>
  )
}

const Period = ({ id, title, unit, usage, window: w }: { id: string; title: string; unit: string; usage: TokenUsage; window: Window }) => {
  const buckets = fillBuckets(usage.series, w)
  const sum = total(usage.totals)
  const said = OUTCOMES.map((o) => `${usage.totals[o]} ${OUTCOME_LABEL[o].toLowerCase()}`).join(', ')
  return (
    <figure class="panel usage-period" aria-labelledby={`${id}-title`}>
      <figcaption id={`${id}-title`}>
        <strong>{title}</strong>: {sum} {sum === 1 ? 'request' : 'requests'}
      </figcaption>
      <Legend id={id} totals={usage.totals} />
      <UsageChart id={id} buckets={buckets} window={w} summary={`${title}: ${said}. The numbers per ${w.granularity} are in the table below.`} />
      <details>
        <summary>Show the numbers as a table</summary>
        <table class="usage-table">
          <caption class="sr-only">{title}, by outcome</caption>
          <thead>
            <tr>
              <th scope="col">{unit}</th>
              {OUTCOMES.map((o) => (
                <th key={o} scope="col">
                  {OUTCOME_LABEL[o]}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {buckets.map((b) => (
              <tr key={b.at}>
                <th scope="row">
                  {w.granularity === 'hour' ? `${new Date(b.at).toISOString().slice(0, 10)} ${bucketLabel(b.at, 'hour')}` : new Date(b.at).toISOString().slice(0, 10)}
                </th>
                {OUTCOMES.map((o) => (
                  <td key={o}>
                    {b[o]}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  )
}

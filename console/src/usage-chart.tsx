import { bucketLabel, niceMax, OUTCOME_LABEL, total, type Bucket, type Window } from './usage-model'
import { OUTCOMES, type Counts, type Outcome } from './types'

const W = 720
const H = 170
const LEFT = 44
const BOTTOM = 22
const TOP = 8
/** Each outcome has a colour and its own fill pattern, so that no outcome is told by colour alone. */
const COLOUR: Record<Outcome, string> = {
  allowed: '#2e6b34',
  denied: '#a4161a',
  rate_limited: '#8a5a00',
  expired: '#555a64',
  revoked: '#4a2fb0',
}
const PATTERN: Record<Outcome, string> = {
  allowed: '',
  denied: 'M0 6 L6 0',
  rate_limited: 'M0 3 H6',
  expired: 'M3 0 V6',
  revoked: 'M0 0 L6 6 M0 6 L6 0',
}

/** The patterns' definitions, once per chart (`id` keeps them apart). */
const Defs = ({ id }: { id: string }) => (
  <defs>
    {OUTCOMES.map((o) => (
      <pattern key={o} id={`${id}-${o}`} width="6" height="6" patternUnits="userSpaceOnUse">
        <rect width="6" height="6" fill={COLOUR[o]} />
        {PATTERN[o] ? <path d={PATTERN[o]} stroke="#fff" stroke-width="1.5" /> : null}
      </pattern>
    ))}
  </defs>
)

/** Each outcome with its pattern and its total: the chart's legend. */
export const Legend = ({ id, totals }: { id: string; totals: Counts }) => (
  <ul class="legend">
    {OUTCOMES.map((o) => (
      <li key={o}>
        <svg width="14" height="14" aria-hidden="true" focusable="false">
          <Defs id={`${id}-lg-${o}`} />
          <rect width="14" height="14" fill={`url(#${id}-lg-${o}-${o})`} />
        </svg>
        <span>
          {OUTCOME_LABEL[o]} <strong>{totals[o]}</strong>
        </span>
      </li>
    ))}
  </ul>
)

/** Stacked bars, one per bucket, by outcome; `summary` is what a screen reader hears for the picture. */
export const UsageChart = ({ id, buckets, window: w, summary }: { id: string; buckets: Bucket[]; window: Window; summary: string }) => {
  const top = niceMax(Math.max(0, ...buckets.map(total)))
  const plotH = H - TOP - BOTTOM
  const slot = (W - LEFT) / buckets.length
  const y = (v: number) => TOP + plotH - (v / top) * plotH
  const every = w.granularity === 'hour' ? 6 : 5
  return (
    <svg class="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={summary} focusable="false">
      <Defs id={id} />
      <line x1={LEFT} x2={W} y1={y(0)} y2={y(0)} stroke="#767b86" />
      <line x1={LEFT} x2={W} y1={y(top)} y2={y(top)} stroke="#d3d5db" stroke-dasharray="4 3" />
      <text x={LEFT - 6} y={y(top) + 4} text-anchor="end" class="axis">
        {top}
      </text>
      <text x={LEFT - 6} y={y(0) + 4} text-anchor="end" class="axis">
        0
      </text>
      {buckets.map((b, i) => {
        const x = LEFT + i * slot + slot * 0.12
        let base = 0
        return (
          <g key={b.at}>
            {OUTCOMES.filter((o) => b[o] > 0).map((o) => {
              const y0 = y(base)
              base += b[o]
              return <rect key={o} x={x} width={slot * 0.76} y={y(base)} height={Math.max(1, y0 - y(base))} fill={`url(#${id}-${o})`} />
            })}
            {i % every === 0 ? (
              <text x={x + slot * 0.38} y={H - 6} text-anchor="middle" class="axis">
                {bucketLabel(b.at, w.granularity)}
              </text>
            ) : null}
          </g>
        )
      })}
    </svg>
  )
}

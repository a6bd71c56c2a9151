import { ago, utc } from './format'

/** A past instant as "3 hours ago", its exact UTC time in `datetime` and the tooltip. */
export const Ago = ({ iso, now }: { iso: string; now: number }) => (
  <time dateTime={iso} title={utc(iso)}>
    {ago(iso, now)}
  </time>
)

/** "3 hours ago from 10.0.4.7", or "Never used". */
export const LastUsed = ({ at, from, now }: { at: string | null | undefined; from?: string | null | undefined; now: number }) =>
  at ? (
    <>
      <Ago iso={at} now={now} />
      {from ? ` from ${from}` : null}
    </>
  ) : (
    <>Never used</>
  )

import { InvalidArgumentError } from 'commander'

const DAY = /^\d{4}-\d{2}-\d{2}$/
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/

/** A `YYYY-MM-DD` day (00:00:00.000 UTC) or an ISO-8601 instant with a zone, as ms since epoch. */
export const parseInstant = (value: string): number => {
  const ms = DAY.test(value) || INSTANT.test(value) ? Date.parse(value) : Number.NaN
  if (!Number.isFinite(ms) || (DAY.test(value) && new Date(ms).toISOString().slice(0, 10) !== value))
    throw new InvalidArgumentError('expected a YYYY-MM-DD date or an ISO-8601 instant with a zone, e.g. 2026-03-01T12:00:00Z')
  return ms
}

/** An integer >= min, written in decimal digits. */
export const parseInteger = (min: number) => (value: string): number => {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN
  if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}`)
  return n
}

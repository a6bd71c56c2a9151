import type { LeakReport } from '../../domain/events.js'
import { invalid } from '../errors.js'

/** Most reports one request may carry; more is a 422 and nothing is done. */
export const MAX_REPORTS = 10_000
/** Longest `url`, and longest `source` and `type`, a report may give. */
const MAX_URL = 2048
const MAX_LABEL = 200

/** One reported token and where it was found. */
export interface Reported {
  readonly token: string
  readonly report: LeakReport
}

type Fields = Record<string, string[]>

const optionalText = (v: unknown, max: number, field: string, errors: Fields): string | null => {
  if (v === undefined || v === null) return null
  if (typeof v !== 'string') errors[field] = ['must be a string']
  else if (v.length > max) errors[field] = [`must be at most ${max} characters`]
  else return v
  return null
}

/**
 * The reports in a parsed body: GitHub's secret-scanning array `[{token, type, url, source}]`
 * (`signed` says whether its signature was verified), or `{token}`, a holder's own report. A
 * report's token need not look like a secret (then it matches none); every other fault is a 422
 * naming the report and field, and no report of the body is acted on.
 */
export const reportsOf = (body: unknown, signed: boolean): Reported[] => {
  if (Array.isArray(body)) {
    if (body.length > MAX_REPORTS) throw invalid(`At most ${MAX_REPORTS} reports per request; send the rest in further requests.`, { reports: [`has ${body.length} reports; at most ${MAX_REPORTS}`] })
    const errors: Fields = {}
    const out: Reported[] = []
    body.forEach((item: unknown, i) => {
      if (typeof item !== 'object' || item === null || Array.isArray(item)) {
        errors[`[${i}]`] = ['must be an object {token, type, url, source}']
        return
      }
      const r = item as Record<string, unknown>
      if (typeof r.token !== 'string') errors[`[${i}].token`] = ['must be a string']
      const url = optionalText(r.url, MAX_URL, `[${i}].url`, errors)
      const source = optionalText(r.source, MAX_LABEL, `[${i}].source`, errors)
      optionalText(r.type, MAX_LABEL, `[${i}].type`, errors)
      if (typeof r.token === 'string') out.push({ token: r.token, report: { url, source, signed } })
    })
    if (Object.keys(errors).length > 0) throw invalid('A report is not valid; nothing was done.', errors)
    return out
  }
  if (typeof body === 'object' && body !== null && typeof (body as { token?: unknown }).token === 'string')
    return [{ token: (body as { token: string }).token, report: { url: null, source: null, signed: false } }]
  throw invalid('The body must be a list of reports [{token, type, url, source}] or {token}.', { token: ['is required'] })
}

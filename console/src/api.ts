/**
 * The console's only way to the service: relative URLs (same origin), the authtoken from memory in
 * the `authtoken` header, errors as values shaped like the service's error body (`error_message`,
 * `error_code`, `errors`).
 */
export interface ApiErrorBody {
  readonly error_message?: string
  readonly error_code?: number
  readonly errors?: Record<string, string[]>
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number | undefined,
    message: string,
    /** Field errors with the `token.` / `user.` prefix removed: `name`, `scope[1].acl`, ... */
    readonly fields: Record<string, string[]>,
  ) {
    super(message)
  }
  /** The sign-in is no longer accepted (a 401 whose `errors` name `authtoken`). */
  get expired(): boolean {
    return this.status === 401 && 'authtoken' in this.fields
  }
}

export interface RequestOptions {
  readonly apiKey?: string
  readonly body?: unknown
  readonly query?: Record<string, string | number | undefined>
  /** Send no authtoken (sign-in calls). */
  readonly anonymous?: boolean
}

export type Request = <T>(method: string, path: string, options?: RequestOptions) => Promise<T>

const stripPrefix = (field: string): string => field.replace(/^(token|user|stack)\./, '')

export const toApiError = (status: number, body: ApiErrorBody | undefined): ApiError => {
  const fields: Record<string, string[]> = {}
  for (const [k, v] of Object.entries(body?.errors ?? {})) fields[k === 'authtoken' ? k : stripPrefix(k)] = v
  const message = body?.error_message ?? `The service answered ${status}.`
  return new ApiError(status, body?.error_code, message, fields)
}

/**
 * `token()` reads the in-memory authtoken; `onExpired` is told when the service refuses it,
 * so the app can ask for a new sign-in without unmounting (and losing) any form.
 */
export const createRequest =
  (token: () => string | undefined, onExpired: () => void): Request =>
  async <T>(method: string, path: string, options: RequestOptions = {}): Promise<T> => {
    const headers: Record<string, string> = { accept: 'application/json' }
    const authtoken = options.anonymous ? undefined : token()
    if (authtoken) headers.authtoken = authtoken
    if (options.apiKey) headers.api_key = options.apiKey
    if (options.body !== undefined) headers['content-type'] = 'application/json'
    const qs = new URLSearchParams()
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined && v !== '') qs.set(k, String(v))
    const url = qs.size > 0 ? `${path}?${qs}` : path
    let res: Response
    try {
      res = await fetch(url, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        credentials: 'same-origin',
        cache: 'no-store',
      })
    } catch {
      throw new ApiError(0, undefined, 'The service cannot be reached. Check that it is running.', {})
    }
    const text = await res.text()
    let body: unknown
    try {
      body = text.length > 0 ? JSON.parse(text) : undefined
    } catch {
      body = undefined
    }
    if (!res.ok) {
      const err = toApiError(res.status, body as ApiErrorBody | undefined)
      if (err.expired && authtoken) onExpired()
      throw err
    }
    return body as T
  }

import { createHmac } from 'node:crypto'

export const SIGNATURE_HEADER = 'management-tokens-signature'
export const DELIVERY_HEADER = 'management-tokens-delivery'

/** Stripe style: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export const sign = (secret: string, timestamp: number, body: string): string =>
  `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`

/**
 * A webhook URL as logs and messages show it: the origin only. Receivers keep their credential in
 * the path (Slack's /services/T.../B.../XXXX) or the query as often as in the userinfo.
 */
export const redactWebhookUrl = (url: string, base?: string): string => {
  let u: URL
  try {
    u = new URL(url, base)
  } catch {
    return '[not a URL]'
  }
  return u.origin === 'null' ? `${u.protocol}…` : `${u.origin}/…`
}

const ABSOLUTE_URL = /\b[a-z][a-z\d+.-]*:\/\/[^\s"'<>]*/gi

/** Text that may quote a URL (fetch's errors do), with every URL in it redacted. */
const redactIn = (text: string): string => text.replace(ABSOLUTE_URL, (m) => redactWebhookUrl(m))

export interface WebhookAnswer {
  readonly status: number
  /** A 3xx's Location, redacted: redirects are never followed. */
  readonly location?: string | undefined
}

export interface WebhookTransport {
  /** The receiver's origin, for start-up messages and logs. */
  readonly target: string
  /** POSTs one delivery, signed now; resolves with the receiver's answer, or throws (with a redacted message) on a network error. */
  post(id: string, body: string, now: Date): Promise<WebhookAnswer>
}

export const webhookTransport = (url: string, secret: string, timeoutMs = 10_000): WebhookTransport => ({
  target: redactWebhookUrl(url),
  async post(id, body, now) {
    let res: Response
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'management-tokens-webhooks',
          [DELIVERY_HEADER]: id,
          [SIGNATURE_HEADER]: sign(secret, Math.floor(now.getTime() / 1000), body),
        },
        body,
        // A redirect would re-send the signed body to wherever the receiver points, loopback included.
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      })
    } catch (e) {
      const err = e as Error & { cause?: { code?: unknown; message?: unknown } }
      const cause = typeof err.cause?.message === 'string' ? `: ${err.cause.message}` : ''
      const code = typeof err.cause?.code === 'string' ? err.cause.code : undefined
      throw Object.assign(new Error(redactIn(`${err.message}${cause}`)), code ? { code } : {})
    }
    await res.arrayBuffer() // drain, so the connection can be reused
    const location = res.headers.get('location')
    return { status: res.status, location: location === null ? undefined : redactWebhookUrl(location, url) }
  },
})

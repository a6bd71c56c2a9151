import { createHmac } from 'node:crypto'
import { redactUrl } from './mail-transport.js'

export const SIGNATURE_HEADER = 'management-tokens-signature'
export const DELIVERY_HEADER = 'management-tokens-delivery'

/** Stripe style: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export const sign = (secret: string, timestamp: number, body: string): string =>
  `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`

export interface WebhookTransport {
  readonly target: string
  /** POSTs one delivery, signed now; resolves with the HTTP status (or throws on a network error). */
  post(id: string, body: string, now: Date): Promise<number>
}

export const webhookTransport = (url: string, secret: string, timeoutMs = 10_000): WebhookTransport => ({
  target: redactUrl(url),
  async post(id, body, now) {
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'management-tokens-webhooks',
        [DELIVERY_HEADER]: id,
        [SIGNATURE_HEADER]: sign(secret, Math.floor(now.getTime() / 1000), body),
      },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    })
    await res.arrayBuffer() // drain, so the connection can be reused
    return res.status
  },
})

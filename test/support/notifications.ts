import { once } from 'node:events'
import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { simpleParser, type ParsedMail } from 'mailparser'
import { SMTPServer } from 'smtp-server'
import type { Scheduler } from '../../src/react/scheduler.js'
import type { TestApp } from './app.js'
import { waitFor } from './wait-for.js'

/** The position of the last event in the instance's store. */
export const lastPosition = async (a: TestApp): Promise<number> => {
  let last = 0
  for await (const e of a.service.store.readAll()) last = e.position
  return last
}

/**
 * Wait until the reactor has followed every event up to `last` (default: the store's last), then
 * let it run its due timers and finish.
 */
export const settle = async (a: TestApp, scheduler: ManualScheduler, last?: number, timeoutMs = 10_000): Promise<void> => {
  const { reactor } = a.service.notifications
  const upTo = last ?? (await lastPosition(a))
  await waitFor(() => reactor.checkpoint >= upTo, { label: 'reactor caught up', timeoutMs })
  await reactor.idle()
  scheduler.fire()
  await reactor.idle()
}

/** A scheduler the test fires by hand (with a fake clock): no real timers, no sleeps. */
export class ManualScheduler implements Scheduler {
  private timers = new Map<number, { delayMs: number; run: () => void }>()
  private next = 0
  after(delayMs: number, run: () => void): () => void {
    const id = (this.next += 1)
    this.timers.set(id, { delayMs, run })
    return () => this.timers.delete(id)
  }
  get pending(): number[] {
    return [...this.timers.values()].map((t) => t.delayMs)
  }
  /** Runs every timer set so far (not those they set). */
  fire(): number {
    const due = [...this.timers.values()]
    this.timers.clear()
    for (const t of due) t.run()
    return due.length
  }
}

export interface ReceivedMail {
  readonly raw: Buffer
  readonly parsed: ParsedMail
  readonly envelopeTo: string[]
}

/** A real SMTP server (smtp-server) on 127.0.0.1; `stop()` and `start()` again on the same port simulate an outage. */
export class TestSmtp {
  readonly mails: ReceivedMail[] = []
  private server: SMTPServer | undefined
  port = 0

  async start(): Promise<this> {
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = []
        stream.on('data', (c: Buffer) => chunks.push(c))
        stream.on('end', () => {
          const raw = Buffer.concat(chunks)
          simpleParser(raw).then(
            (parsed) => {
              this.mails.push({ raw, parsed, envelopeTo: session.envelope.rcptTo.map((r) => r.address) })
              callback()
            },
            (e: Error) => callback(e),
          )
        })
      },
    })
    server.listen(this.port, '127.0.0.1')
    await once(server.server, 'listening')
    this.port = (server.server.address() as AddressInfo).port
    this.server = server
    return this
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`
  }

  async stop(): Promise<void> {
    const s = this.server
    this.server = undefined
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()))
  }
}

export interface ReceivedWebhook {
  readonly id: string
  readonly body: string
  readonly signature: string
  readonly verified: boolean
  readonly status: number
}

/** The receiver of the README: verify `t=...,v1=...` over `t.body` with the shared secret, within a tolerance. */
export const verifySignature = (secret: string, header: string, body: string, nowSeconds: number, toleranceSeconds = 300): boolean => {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=') as [string, string]))
  const t = Number(parts.t)
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > toleranceSeconds || !parts.v1) return false
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest()
  const given = Buffer.from(parts.v1, 'hex')
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/** A real HTTP receiver on port 0: verifies each signature, answers `answer()` (200 unless told), records every request. */
export class TestReceiver {
  readonly received: ReceivedWebhook[] = []
  /** Delivery ids processed once (the de-duplication a receiver does). */
  readonly processed = new Map<string, unknown>()
  answer: (n: number) => number = () => 200
  private server: Server | undefined
  url = ''

  constructor(
    private readonly secret: string,
    private readonly nowSeconds: () => number,
  ) {}

  async start(): Promise<this> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8')
        const signature = String(req.headers['management-tokens-signature'] ?? '')
        const id = String(req.headers['management-tokens-delivery'] ?? '')
        const verified = verifySignature(this.secret, signature, body, this.nowSeconds())
        const status = verified ? this.answer(this.received.length + 1) : 400
        this.received.push({ id, body, signature, verified, status })
        if (status === 200 && !this.processed.has(id)) this.processed.set(id, JSON.parse(body))
        res.statusCode = status
        res.end()
      })
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`
    this.server = server
    return this
  }

  async stop(): Promise<void> {
    const s = this.server
    this.server = undefined
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()))
  }
}

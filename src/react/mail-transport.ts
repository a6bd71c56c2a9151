import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import nodemailer from 'nodemailer'
import type { NoticeMail } from '../../reactors/expiry-mail.js'

/** Where expiry notices go: an SMTP server, or `.eml` files for a new user to look at. */
export interface MailTransport {
  /** For start-up messages and logs; never holds the SMTP password. */
  readonly target: string
  send(mail: NoticeMail): Promise<void>
  close(): void
}

/** A URL for logs and messages: without its user, password, query or fragment (any may hold a credential). */
export const redactUrl = (url: string): string => {
  const u = new URL(url)
  if (u.username || u.password) {
    u.username = '***'
    u.password = ''
  }
  u.search = ''
  u.hash = ''
  return u.toString()
}

const message = (from: string, m: NoticeMail) => ({
  from,
  to: [...m.to],
  subject: m.subject,
  text: m.text,
  messageId: m.messageId,
  date: new Date(m.date),
  headers: { 'Auto-Submitted': 'auto-generated' },
})

export const smtpTransport = (url: string, from: string): MailTransport => {
  const transport = nodemailer.createTransport({ url, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 })
  return {
    target: redactUrl(url),
    async send(m) {
      await transport.sendMail(message(from, m))
    },
    close: () => transport.close(),
  }
}

/** Without SMTP_URL: each message as `<DATA_DIR>/outbox/<event id>.eml` (a retry rewrites the same file). */
export const emlTransport = (dir: string, from: string): MailTransport => {
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' })
  return {
    target: dir,
    async send(m) {
      const info = await transport.sendMail(message(from, m))
      mkdirSync(dir, { recursive: true })
      const name = m.messageId.replace(/^<|>$/g, '').replace(/[^\w.@-]/g, '_')
      const file = join(dir, `${name}.eml`)
      // Written aside then renamed: a reader never sees half a message.
      writeFileSync(`${file}.tmp`, info.message as Buffer)
      renameSync(`${file}.tmp`, file)
    },
    close: () => transport.close(),
  }
}

/** A failed send as the log states it: the server's status code or the network error. */
export const mailFailure = (e: unknown): { status: string; message: string } => {
  const err = e as { responseCode?: number; code?: string; message?: string }
  return { status: String(err.responseCode ?? err.code ?? 'error'), message: err.message ?? String(e) }
}

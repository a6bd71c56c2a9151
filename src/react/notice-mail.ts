import type { NoticeMail } from '../../reactors/expiry-mail.js'
import type { Outbox } from './outbox.js'

/**
 * The outbox `kind` of each notice mail and the prefix of its delivery id. The prefix keeps a
 * mail's id apart from the webhook reporting the same event (keyed by the bare event id); the
 * mail's Message-ID is built from the same event id (reactors/*-mail.ts).
 */
const PREFIX = { expiry_notice: 'expiry-notice', token_leaked: 'token-leaked', inactivity_notice: 'inactivity-notice' } as const
export type MailKind = keyof typeof PREFIX

/** Queues a rendered notice for delivery, once per event (the outbox ignores an id it holds). */
export const enqueueMail = (outbox: Outbox, kind: MailKind, eventId: string, stack: string, mail: NoticeMail, now: number): void =>
  outbox.add({ id: `${PREFIX[kind]}.${eventId}`, channel: 'mail', stack, kind, payload: JSON.stringify(mail) }, now)

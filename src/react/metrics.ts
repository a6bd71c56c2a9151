import { Counter, Gauge, type Registry } from 'prom-client'
import type { Outbox } from './outbox.js'

export interface ReactorMetrics {
  noticeRecorded(): void
  /** An inactivity notice or retirement this instance recorded. */
  inactivity(action: 'notice' | 'retired'): void
  delivery(channel: string, outcome: 'delivered' | 'failed' | 'dead'): void
}

/** Notification metrics: notices sent, deliveries by outcome, outbox depth and oldest undelivered age. */
export const reactorMetrics = (registry: Registry, outbox: Outbox, clock: () => Date): ReactorMetrics => {
  const notices = new Counter({
    name: 'expiry_notices_total',
    help: 'Expiry notices this instance recorded (each is then mailed to the stack owner and admins)',
    registers: [registry],
  })
  const inactivity = new Counter({
    name: 'inactivity_actions_total',
    help: 'Unused tokens this instance acted on under a stack policy: notice (mailed ahead) or retired (revoked with reason inactive)',
    labelNames: ['action'] as const,
    registers: [registry],
  })
  const deliveries = new Counter({
    name: 'outbox_deliveries_total',
    help: 'Delivery attempts by channel (mail, webhook) and outcome (delivered, failed: retried later, dead: retry window spent)',
    labelNames: ['channel', 'outcome'] as const,
    registers: [registry],
  })
  // Read from the outbox when scraped, so they are right after a restart too.
  const channels = ['mail', 'webhook'] as const
  new Gauge({
    name: 'outbox_depth',
    help: 'Deliveries waiting to be accepted, by channel',
    labelNames: ['channel'] as const,
    registers: [registry],
    collect() {
      const depth = outbox.depth()
      for (const c of channels) this.set({ channel: c }, depth.get(c)?.count ?? 0)
    },
  })
  new Gauge({
    name: 'outbox_oldest_undelivered_seconds',
    help: 'Age of the oldest delivery not yet accepted, by channel (0 when none waits)',
    labelNames: ['channel'] as const,
    registers: [registry],
    collect() {
      const depth = outbox.depth()
      const now = clock().getTime()
      for (const c of channels) {
        const d = depth.get(c)
        this.set({ channel: c }, d ? Math.max(0, (now - d.oldest) / 1000) : 0)
      }
    },
  })
  return {
    noticeRecorded: () => notices.inc(),
    inactivity: (action) => inactivity.inc({ action }),
    delivery: (channel, outcome) => deliveries.inc({ channel, outcome }),
  }
}

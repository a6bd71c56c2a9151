import { AUDIT_KIND } from '../../src/domain/audit.js'
import type { EventType } from '../../src/domain/events.js'

export { AUDIT_KIND }

/** Every event name (AUDIT_KIND has each), in the order of the catalogue, without loading the codecs. */
export const EVENT_NAMES = Object.keys(AUDIT_KIND) as EventType[]

import { withdrawsAccess } from '../propagation/withdraws.js'
import type { PropagationReport } from '../propagation/propagation.js'
import type { Handled } from '../write/handle-command.js'
import type { AppDeps } from './deps.js'

/**
 * For a command whose events take access away: waits until every live instance has applied them
 * (or the timeout), and gives the answer's `propagation` field; nothing for any other command.
 */
export const confirmed = async (deps: Pick<AppDeps, 'propagation' | 'clock'>, done: Handled): Promise<{ propagation?: PropagationReport }> =>
  done.position !== undefined && withdrawsAccess(done.events, deps.clock()) ? { propagation: await deps.propagation.confirm(done.position) } : {}

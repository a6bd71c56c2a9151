/**
 * Keeps one of Node's `process.nextTick` queue entries alive for the life of the process.
 *
 * `nextTick` builds each entry as `{ [async_id_symbol]: id, [trigger_async_id_symbol]: id,
 * callback, args }` (from Node 24 with its async context frame too), its computed keys added one
 * at a time. In some processes the service's
 * start-up left those property stores megamorphic for good (`%DebugPrint(process.nextTick)`
 * under `--allow-natives-syntax`: the slots after the first MEGAMORPHIC), so every `nextTick`
 * went through the runtime. A forward-auth answer makes about six (Node's streams ending the
 * request and finishing the response), and `bench:authorizer` measured 27.8k to 35.3k allowed
 * reads/s in the processes that lost that way against 46.7k to 58.5k in the others.
 *
 * V8 holds hidden classes, and the transitions to them, weakly: a chain that no live object
 * uses can be dropped by a full collection and built anew, and each new chain is one more class
 * for those stores to see. The exact start-up sequence that does it was not reproduced in
 * isolation (nextTick between forced full collections stayed monomorphic); what was measured is
 * the outcome: with one entry held, none of 5 servers checked with `%DebugPrint` and none of 34
 * bench servers lost (2 of 3 service processes and 4 of 4 bench servers had, before).
 *
 * The entry is caught with an async hook enabled for that one call only.
 */
import { createHook } from 'node:async_hooks'

let kept: object | undefined

const catchOne = () => {
  const hook = createHook({
    init(_id, type, _trigger, resource) {
      if (type === 'TickObject' && kept === undefined) kept = resource as object
    },
  })
  hook.enable()
  try {
    process.nextTick(() => {})
  } finally {
    hook.disable()
  }
}
catchOne()

/** The entry held (for tests): undefined only if Node stopped reporting TickObjects. */
export const keptTickObject = (): object | undefined => kept

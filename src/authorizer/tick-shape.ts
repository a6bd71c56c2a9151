/**
 * Keeps one of Node's `process.nextTick` queue entries alive for the life of the process.
 *
 * `nextTick` builds each entry as `{ [async_id_symbol]: id, [trigger_async_id_symbol]: id,
 * callback, args }`. Its computed keys are added one at a time, and the hidden classes V8 makes
 * for them are held only weakly: a full garbage collection at a moment when no entry is alive
 * drops them, and the next entry gets new ones. After a few such collections (a start-up that
 * loads the read models runs several) V8 marks those property stores megamorphic for good, and
 * every `nextTick` goes through the runtime. A forward-auth answer makes about six (Node's
 * streams ending the request and finishing the response), so that lottery decided about a
 * third of the fast path's throughput: `bench:authorizer` measured 33 to 35k allowed reads/s in
 * the processes that lost it and 45 to 50k in those that did not. One entry kept alive keeps
 * its hidden classes, so every later entry takes the same ones and the stores stay monomorphic.
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

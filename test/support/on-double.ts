/**
 * The SDK end-to-end scenario and the authorizer suites run once more with the service on
 * EventStoreDB, through the real client and the in-process gRPC test double
 * (TEST_EVENT_STORE=esdb-double, read by store-under-test.ts). Split over several test files, so
 * that each stays well inside tap's per-file timeout and the runner can spread them over cores.
 */
import { readdirSync } from 'node:fs'
import type { Test } from 'tap'

export const DOUBLE_SUITES = [
  'test/e2e/sdk.test.ts',
  ...readdirSync('test/authorizer')
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => `test/authorizer/${f}`),
]

/** Spawns every `parts`-th suite starting at `part` (0-based). */
export const spawnOnDouble = (t: Test, part: number, parts: number): void => {
  DOUBLE_SUITES.forEach((file, i) => {
    if (i % parts === part) t.spawn(process.execPath, [...process.execArgv, file], { env: { ...process.env, TEST_EVENT_STORE: 'esdb-double' } }, `${file} on the EventStoreDB double`)
  })
}

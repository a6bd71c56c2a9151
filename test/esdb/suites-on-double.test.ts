/**
 * The SDK end-to-end scenario and the authorizer suites run once more with the service
 * on EventStoreDB, through the real client and the in-process gRPC test double
 * (TEST_EVENT_STORE=esdb-double, read by test/support/store-under-test.ts).
 */
import { readdirSync } from 'node:fs'
import t from 'tap'

const suites = [
  'test/e2e/sdk.test.ts',
  ...readdirSync('test/authorizer')
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => `test/authorizer/${f}`),
]

for (const file of suites)
  t.spawn(process.execPath, [...process.execArgv, file], { env: { ...process.env, TEST_EVENT_STORE: 'esdb-double' } }, `${file} on the EventStoreDB double`)

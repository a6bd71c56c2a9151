// Part 3 of 3 of the suites that run again on the EventStoreDB double (test/support/on-double.ts).
import t from 'tap'
import { spawnOnDouble } from '../support/on-double.js'

spawnOnDouble(t, 2, 3)

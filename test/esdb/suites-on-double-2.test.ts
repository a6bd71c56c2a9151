// Part 2 of 3 of the suites that run again on the EventStoreDB double (test/support/on-double.ts).
import t from 'tap'
import { spawnOnDouble } from '../support/on-double.js'

spawnOnDouble(t, 1, 3)

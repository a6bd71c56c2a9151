/** The sweep's reads cost what the stacks with the rule hold, not every token the reactor knows. */
import Database from 'better-sqlite3'
import t from 'tap'
import { RULED } from '../../src/react/inactivity-rows.js'
import { createInactivityTables } from '../../src/react/reactor-tables.js'

t.test('tokens are read from the ruled stacks through the index by stack, never by a scan of every token', async (t) => {
  const db = new Database(':memory:')
  t.teardown(() => db.close())
  createInactivityTables(db)
  const plan = db
    .prepare(`EXPLAIN QUERY PLAN SELECT t.token_uid FROM ${RULED} WHERE s.inactive_days IS NOT NULL`)
    .all()
    .map((r) => (r as { detail: string }).detail)
  t.same(plan, ['SCAN s USING INDEX inactivity_stacks_with_rule', 'SEARCH t USING COVERING INDEX inactivity_tokens_by_stack (api_key=?)'], plan.join('; '))
})

import type Database from 'better-sqlite3'

/** The expiry reactor's tables: its checkpoints, the stacks' names, the schedule and the intents. */
export const createReactorTables = (db: Database.Database): void => {
  db.exec(`
    CREATE TABLE IF NOT EXISTS reactor_checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS reactor_stacks (api_key TEXT PRIMARY KEY, name TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS reactor_schedule (
      token_uid    TEXT PRIMARY KEY,
      api_key      TEXT NOT NULL,
      name         TEXT NOT NULL,
      expires_on   TEXT,
      expires_ms   INTEGER,
      notify       INTEGER NOT NULL,
      revoked      INTEGER NOT NULL,
      notified_for TEXT,
      expired_for  TEXT
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS reactor_schedule_by_expiry ON reactor_schedule (expires_ms) WHERE revoked = 0;
    -- A notice this instance is about to record, under the event id it will append with: written
    -- before the append, so a crash right after it still knows the notice is its own to mail.
    -- A leaked token's revocation is one too (expires_on '').
    CREATE TABLE IF NOT EXISTS notice_intents (
      event_id   TEXT PRIMARY KEY,
      api_key    TEXT NOT NULL,
      token_uid  TEXT NOT NULL,
      expires_on TEXT NOT NULL,
      created_at INTEGER NOT NULL
    ) WITHOUT ROWID;`)
}

/**
 * The inactivity sweep's tables (src/react/inactivity.ts): the stacks' rules, the live tokens of
 * every stack (a rule may come later), and its own intents, so that the expiry reactor's clean-up
 * at catch-up never drops one of them.
 */
export const createInactivityTables = (db: Database.Database): void => {
  createReactorTables(db)
  db.exec(`
    CREATE TABLE IF NOT EXISTS inactivity_stacks (api_key TEXT PRIMARY KEY, name TEXT NOT NULL, inactive_days INTEGER) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS inactivity_tokens (
      token_uid       TEXT PRIMARY KEY,
      api_key         TEXT NOT NULL,
      name            TEXT NOT NULL,
      active_since    INTEGER,
      expires_ms      INTEGER,
      notice_activity INTEGER,
      notice_retire   INTEGER
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS inactivity_tokens_by_stack ON inactivity_tokens (api_key);
    CREATE INDEX IF NOT EXISTS inactivity_stacks_with_rule ON inactivity_stacks (api_key) WHERE inactive_days IS NOT NULL;
    CREATE TABLE IF NOT EXISTS inactivity_intents (event_id TEXT PRIMARY KEY, created_at INTEGER NOT NULL) WITHOUT ROWID;`)
}

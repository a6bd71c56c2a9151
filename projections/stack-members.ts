import type { Projection } from '../src/read/projection.js'

/** Stacks and their members with roles: who may call the management endpoints. */
export const stackMembers: Projection = {
  name: 'stack-members',
  version: 1,
  tables: ['stacks', 'stack_members'],
  handles: new Set(['StackCreated', 'MemberShared', 'MemberUnshared', 'OwnershipTransferred']),
  create(db, table) {
    const s = table('stacks')
    const m = table('stack_members')
    db.exec(`
      CREATE TABLE IF NOT EXISTS ${s} (
        api_key     TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        description TEXT NOT NULL,
        owner_email TEXT NOT NULL,
        owner_uid   TEXT NOT NULL,
        created_by  TEXT NOT NULL,
        updated_by  TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS ${m} (
        api_key   TEXT NOT NULL,
        email     TEXT NOT NULL,
        roles     TEXT NOT NULL,
        shared_by TEXT NOT NULL,
        shared_at TEXT NOT NULL,
        PRIMARY KEY (api_key, email)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS ${m}_by_email ON ${m} (email);`)
  },
  prepare(db, table) {
    const s = table('stacks')
    const m = table('stack_members')
    const create = db.prepare(
      `INSERT OR REPLACE INTO ${s} VALUES (@api_key, @name, @description, @owner_email, @owner_uid, @actor, @actor, @at, @at)`,
    )
    const share = db.prepare(`INSERT OR REPLACE INTO ${m} VALUES (@api_key, @email, @roles, @actor, @at)`)
    const unshare = db.prepare(`DELETE FROM ${m} WHERE api_key = @api_key AND email = @email`)
    const transfer = db.prepare(
      `UPDATE ${s} SET owner_email = @to_email, owner_uid = @to_email, updated_by = @actor, updated_at = @at WHERE api_key = @api_key`,
    )
    const touch = db.prepare(`UPDATE ${s} SET updated_by = @actor, updated_at = @at WHERE api_key = @api_key`)
    return ({ event, metadata }) => {
      const base = { actor: metadata.actor, at: metadata.occurred_at, api_key: event.data.api_key }
      switch (event.type) {
        case 'StackCreated':
          create.run({ ...base, ...event.data })
          share.run({ ...base, email: event.data.owner_email, roles: '[]' })
          return
        case 'MemberShared':
          share.run({ ...base, email: event.data.email, roles: JSON.stringify(event.data.roles) })
          touch.run(base)
          return
        case 'MemberUnshared':
          unshare.run({ ...base, email: event.data.email })
          touch.run(base)
          return
        case 'OwnershipTransferred':
          transfer.run({ ...base, to_email: event.data.to_email })
          share.run({ ...base, email: event.data.from_email, roles: '["admin"]' })
          return
        default:
      }
    }
  },
}

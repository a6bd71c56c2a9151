import { direct, unqualified, type Projection } from '../src/read/projection.js'

/** Stacks and their members with roles: who may call the management endpoints. */
export const stackMembers: Projection = {
  name: 'stack-members',
  version: 2,
  file: 'read-models',
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
      ) WITHOUT ROWID;`)
  },
  index(db, table) {
    const s = table('stacks')
    const m = table('stack_members')
    db.exec(`CREATE INDEX IF NOT EXISTS ${m}_by_email ON ${unqualified(m)} (email)`)
    // The per-user stack quota counts the stacks a user created.
    db.exec(`CREATE INDEX IF NOT EXISTS ${s}_by_creator ON ${unqualified(s)} (created_by)`)
  },
  prepare(db, table) {
    const s = table('stacks')
    const m = table('stack_members')
    // Positional parameters: a rebuild runs these statements a million times.
    const create = db.prepare(`INSERT OR REPLACE INTO ${s} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    const share = db.prepare(`INSERT OR REPLACE INTO ${m} VALUES (?, ?, ?, ?, ?)`)
    const unshare = db.prepare(`DELETE FROM ${m} WHERE api_key = ? AND email = ?`)
    const transfer = db.prepare(`UPDATE ${s} SET owner_email = ?, owner_uid = ?, updated_by = ?, updated_at = ? WHERE api_key = ?`)
    const touch = db.prepare(`UPDATE ${s} SET updated_by = ?, updated_at = ? WHERE api_key = ?`)
    return direct(({ event, metadata }) => {
      const actor = metadata.actor
      const at = metadata.occurred_at
      const apiKey = event.data.api_key
      switch (event.type) {
        case 'StackCreated': {
          const d = event.data
          create.run(apiKey, d.name, d.description, d.owner_email, d.owner_uid, actor, actor, at, at)
          share.run(apiKey, d.owner_email, '[]', actor, at)
          return
        }
        case 'MemberShared':
          share.run(apiKey, event.data.email, JSON.stringify(event.data.roles), actor, at)
          touch.run(actor, at, apiKey)
          return
        case 'MemberUnshared':
          unshare.run(apiKey, event.data.email)
          touch.run(actor, at, apiKey)
          return
        case 'OwnershipTransferred':
          transfer.run(event.data.to_email, event.data.to_email, actor, at, apiKey)
          share.run(apiKey, event.data.from_email, '["admin"]', actor, at)
          return
        default:
      }
    })
  },
}

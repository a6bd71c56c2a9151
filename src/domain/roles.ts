/** Built-in stack roles. The owner is not a role: it is a property of the stack. */
export const ROLES = [
  { uid: 'admin', name: 'Admin' },
  { uid: 'developer', name: 'Developer' },
  { uid: 'content_manager', name: 'Content Manager' },
] as const
export type Role = (typeof ROLES)[number]['uid']
const roleSet: ReadonlySet<string> = new Set(ROLES.map((r) => r.uid))
export const isRole = (r: string): r is Role => roleSet.has(r)

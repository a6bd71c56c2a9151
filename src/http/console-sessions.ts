/**
 * What the console's sign-in keeps on the server: signed-in sessions (the id_token), each under a
 * random id that only an HttpOnly cookie carries. In memory, per instance: a restart or another
 * replica means signing in again. Only a completed sign-in adds one; sign-ins in progress live
 * in the browser's cookie (pending-sign-in.ts), so starting them cannot push a session out.
 */
export class ExpiringStore<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>()

  constructor(
    private readonly now: () => number,
    /** Oldest entries go first beyond this many, so memory stays bounded. */
    private readonly max: number,
  ) {}

  set(key: string, value: V, expiresAt: number): void {
    this.entries.delete(key)
    this.entries.set(key, { value, expiresAt })
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string)
  }

  get(key: string): V | undefined {
    const e = this.entries.get(key)
    if (!e) return undefined
    if (e.expiresAt <= this.now()) {
      this.entries.delete(key)
      return undefined
    }
    return e.value
  }

  /** Gets and removes: a pending sign-in is good for one callback only. */
  take(key: string): V | undefined {
    const v = this.get(key)
    this.entries.delete(key)
    return v
  }

  delete(key: string): void {
    this.entries.delete(key)
  }
}

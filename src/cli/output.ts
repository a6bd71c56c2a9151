import type { Io } from './io.js'

/**
 * Buffers lines and writes them in large chunks; when the destination pushes back (a pipe that
 * is full), `write` returns a promise to await before writing more. Awaiting only then keeps a
 * million-line replay fast.
 */
export class LineWriter {
  private buffer: string[] = []
  private size = 0

  constructor(
    private readonly io: Io,
    private readonly chunk = 256 * 1024,
  ) {}

  write(line: string): Promise<void> | undefined {
    this.buffer.push(line)
    this.size += line.length
    return this.size >= this.chunk ? this.flush() : undefined
  }

  async flush(): Promise<void> {
    if (this.size === 0) return
    const text = this.buffer.join('')
    this.buffer = []
    this.size = 0
    if (this.io.out(text) === false && this.io.drain) await this.io.drain()
  }
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export const row = (cells: readonly string[], widths: readonly number[]): string =>
  `${cells.map((c, i) => (i < cells.length - 1 ? c.padEnd(widths[i] ?? 0) : c)).join('  ').trimEnd()}\n`

export const count = (n: number): string => n.toLocaleString('en-US')

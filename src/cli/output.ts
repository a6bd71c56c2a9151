import { escapeControls, UNPRINTABLE } from '../domain/plain-text.js'
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

/**
 * Left-aligned columns separated by two spaces; the last column is not padded. Cells are escaped
 * (src/domain/plain-text.ts) before padding: a stored name never drives the terminal, and a
 * line feed in one never starts a row.
 */
export const row = (cells: readonly string[], widths: readonly number[]): string =>
  `${cells.map((c, i) => (i < cells.length - 1 ? escapeControls(c).padEnd(widths[i] ?? 0) : escapeControls(c))).join('  ').trimEnd()}\n`

/** A line of free text (a message that may quote stored values), escaped like a cell. */
export const line = (text: string): string => `${escapeControls(text)}\n`

/**
 * One JSON text on one line. JSON.stringify escapes C0 controls but leaves DEL, C1 controls,
 * format characters (bidi overrides) and U+2028/U+2029 raw; they are written as `\uXXXX`,
 * which is still the same JSON value.
 */
export const jsonLine = (value: unknown): string =>
  `${JSON.stringify(value).replace(UNPRINTABLE, (c) => c.split('').map((u) => `\\u${u.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''))}\n`

export const count = (n: number): string => n.toLocaleString('en-US')

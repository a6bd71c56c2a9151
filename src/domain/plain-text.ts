import * as t from 'io-ts'

/**
 * Names, descriptions, branch and alias names reach operators' terminals (the audit CLI) and
 * mail bodies. A control character there can retitle a terminal, move its cursor, erase what
 * it shows or start a new mail line; a bidirectional override makes text read in another order
 * than it is stored. So every free-text field refuses C0 controls (U+0000-U+001F, tab and line
 * feed included: a description is one line), DEL and C1 controls (U+007F-U+009F), and the
 * bidirectional marks, embeddings, overrides and isolates. Other format characters (the
 * zero-width joiner of emoji sequences) stay allowed.
 */
const REFUSED = '\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069'
const REFUSED_CHARACTER = new RegExp(`[${REFUSED}]`)
/** The same rule as a JSON Schema `pattern`, for the API reference. */
export const PLAIN_TEXT_PATTERN = `^[^${REFUSED}]*$`

const codePoint = (c: string): string => `U+${(c.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0')}`

/** Why `s` cannot be stored as a name or description, or undefined. */
export const plainTextProblem = (s: string): string | undefined => {
  const found = REFUSED_CHARACTER.exec(s)
  return found ? `must not contain control or bidirectional formatting characters (found ${codePoint(found[0])} at index ${found.index})` : undefined
}

/** A string without the characters above: the codec of every free-text field of a request body. */
export class PlainTextType extends t.Type<string, string, unknown> {
  readonly _tag = 'PlainTextType'
  constructor() {
    super(
      'string',
      (u): u is string => typeof u === 'string' && plainTextProblem(u) === undefined,
      (u, c) => {
        if (typeof u !== 'string') return t.failure(u, c)
        const problem = plainTextProblem(u)
        return problem === undefined ? t.success(u) : t.failure(u, c, problem)
      },
      t.identity,
    )
  }
}

export const PlainText = new PlainTextType()

/** What output escapes: every control or format character, and the line and paragraph separators. */
export const UNPRINTABLE = /[\p{Cc}\p{Cf}\u2028\u2029]/gu

/** Most output is printable ASCII: checked with a plain class, much faster than the Unicode one. */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/

const SHORT: Readonly<Record<string, string>> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' }

const escape = (c: string): string => {
  const n = c.codePointAt(0) as number
  if (SHORT[c]) return SHORT[c]
  if (n <= 0xff) return `\\x${n.toString(16).padStart(2, '0')}`
  if (n <= 0xffff) return `\\u${n.toString(16).padStart(4, '0')}`
  return `\\u{${n.toString(16)}}`
}

/**
 * Text for a terminal or a mail: each unprintable character as a visible escape (`\n`, `\x1b`,
 * `\u202e`). Events written before names were checked may hold any character, and they are
 * shown as they are stored, only never interpreted.
 */
export const escapeControls = (s: string): string => (PRINTABLE_ASCII.test(s) ? s : s.replace(UNPRINTABLE, escape))


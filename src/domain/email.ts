/**
 * Email addresses name people (stack members, the caller of a management endpoint), so two
 * spellings must never reach one member. Unicode case mapping folds look-alikes onto ASCII
 * (KELVIN SIGN U+212A lower-cases to `k`, LATIN SMALL LETTER DOTLESS I U+0131 upper-cases to
 * `I`, LONG S U+017F to `S`, fullwidth letters are compatibility forms of ASCII), so an address
 * is compared in one canonical form: trimmed, NFC, and only ASCII `A`-`Z` lower-cased. An
 * address that Unicode folding would turn into another one (any of the above, or a non-ASCII
 * capital) is refused rather than guessed at.
 */
export const MAX_EMAIL_LENGTH = 254

const ADDRESS = /^[^\s@\p{C}]{1,64}@[^\s@\p{C}.]+(\.[^\s@\p{C}.]+)+$/u

export const canonicalEmail = (raw: string): string => raw.trim().normalize('NFC').replace(/[A-Z]+/g, (s) => s.toLowerCase())

const ASCII = /[\u0000-\u007f]/
/**
 * A non-ASCII character that normalisation or case mapping turns into (or onto) ASCII: the
 * Kelvin sign (NFC even maps it to `K`), dotless i, long s, sharp s, fullwidth forms, ligatures.
 */
const foldsToAscii = (c: string): boolean =>
  !ASCII.test(c) && (ASCII.test(c.normalize('NFKC')) || ASCII.test(c.toUpperCase()) || ASCII.test(c.toLowerCase()))

/** What full Unicode case folding and compatibility normalisation would make of it. */
const folded = (s: string): string => s.normalize('NFKC').toUpperCase().toLowerCase().normalize('NFC')

/** Why `raw` cannot be used as an address, or undefined (then canonicalEmail(raw) is its form). */
export const emailProblem = (raw: string): string | undefined => {
  const canonical = canonicalEmail(raw)
  if (canonical.length === 0) return 'is empty'
  if (canonical.length > MAX_EMAIL_LENGTH || !ADDRESS.test(canonical)) return 'must be an email address'
  if ([...raw].some(foldsToAscii) || folded(canonical) !== canonical)
    return 'contains characters that Unicode folds onto other letters (look-alikes such as the Kelvin sign, dotless i, long s, fullwidth or non-ASCII capital letters)'
  return undefined
}

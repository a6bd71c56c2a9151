import * as E from 'fp-ts/lib/Either.js'
import type * as t from 'io-ts'
import type { FieldErrors } from '../domain/errors.js'
import { invalid } from './errors.js'

const describe = (e: t.ValidationError): [string, string] => {
  const path = e.context
    .map((c) => c.key)
    .filter((k) => k !== '')
    .reduce((acc, k) => (/^\d+$/.test(k) ? `${acc}[${k}]` : acc ? `${acc}.${k}` : k), '')
  const expected = e.context[e.context.length - 1]?.type.name ?? 'a valid value'
  return [path || 'body', e.value === undefined ? 'is required' : e.message ?? `must be ${expected}`]
}

/** Decodes a request part with an io-ts codec; failures are a 422 naming each field at fault. */
export const decodeOr422 = <A, O>(codec: t.Type<A, O, unknown>, value: unknown): A => {
  const r = codec.decode(value)
  if (E.isRight(r)) return r.right
  const errors: FieldErrors = {}
  for (const e of r.left) {
    const [field, message] = describe(e)
    const list = (errors[field] ??= [])
    if (!list.includes(message)) list.push(message)
  }
  const first = Object.keys(errors)[0] as string
  throw invalid(`${first}: ${errors[first]?.[0]}`, errors)
}

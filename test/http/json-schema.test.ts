import * as t from 'io-ts'
import tap from 'tap'
import { exact, nullable } from '../../src/http/exact.js'
import { jsonSchemaOf } from '../../src/http/json-schema.js'

tap.test('jsonSchemaOf: the codecs the routes use, as JSON Schema', async (tap) => {
  tap.same(jsonSchemaOf(t.keyof({ a: null, b: null })), { type: 'string', enum: ['a', 'b'] })
  tap.same(jsonSchemaOf(t.literal('x')), { const: 'x' })
  tap.same(jsonSchemaOf(t.record(t.string, t.array(t.string))), { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } })
  tap.same(jsonSchemaOf(t.union([t.string, t.null])), { anyOf: [{ type: 'string' }, { type: 'null' }] })
  tap.same(jsonSchemaOf(nullable(t.number)), { anyOf: [{ type: 'number' }, { type: 'null' }] })
  tap.same(jsonSchemaOf(exact(t.intersection([t.type({ a: t.boolean }), t.partial({ b: t.string })]), ['c'])), {
    type: 'object',
    properties: { a: { type: 'boolean' }, b: { type: 'string' }, c: { description: 'read-only: accepted and ignored' } },
    required: ['a'],
    additionalProperties: false,
  })
  tap.same(jsonSchemaOf(t.unknown), {}, 'anything else: any value')
})

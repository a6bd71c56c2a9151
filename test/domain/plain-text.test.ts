import * as E from 'fp-ts/lib/Either.js'
import t from 'tap'
import { jsonLine, row } from '../../src/cli/output.js'
import { escapeControls, PlainText, plainTextProblem } from '../../src/domain/plain-text.js'

t.test('plainTextProblem names the first refused character and where it is', async (t) => {
  t.equal(plainTextProblem('déploiement 👩‍💻 «nightly»'), undefined)
  t.equal(plainTextProblem(''), undefined)
  t.equal(plainTextProblem('ab\u0000'), 'must not contain control or bidirectional formatting characters (found U+0000 at index 2)')
  t.equal(plainTextProblem('\u061c'), 'must not contain control or bidirectional formatting characters (found U+061C at index 0)')
  t.equal(plainTextProblem('a\u00a0b\u00adc'), undefined, 'a no-break space and a soft hyphen are text')
})

t.test('PlainText: a string without those characters', async (t) => {
  t.ok(PlainText.is('ci'))
  t.notOk(PlainText.is('c\ri'))
  t.notOk(PlainText.is(1))
  t.same(PlainText.decode('ci'), E.right('ci'))
  const refused = PlainText.decode('c\u009bi')
  t.ok(E.isLeft(refused) && refused.left[0]?.message?.includes('U+009B'))
  const wrongType = PlainText.decode(1)
  t.ok(E.isLeft(wrongType) && wrongType.left[0]?.message === undefined, 'a non-string is reported as the wrong type, like t.string')
  t.equal(PlainText.encode('ci'), 'ci')
})

t.test('escapeControls: every control or format character visible, everything else as it is', async (t) => {
  t.equal(escapeControls('a\tb\nc\rd'), 'a\\tb\\nc\\rd')
  t.equal(escapeControls('\u0000\u001b\u007f\u0085\u009f'), '\\x00\\x1b\\x7f\\x85\\x9f')
  t.equal(escapeControls('\u202e\u2066\u200b\u2028\u2029\ufeff'), '\\u202e\\u2066\\u200b\\u2028\\u2029\\ufeff')
  t.equal(escapeControls('tag\u{e0041}'), 'tag\\u{e0041}', 'an astral format character')
  t.equal(escapeControls('Zürich 東京 «x» 👍'), 'Zürich 東京 «x» 👍')
})

t.test('row pads the escaped cell, so columns still line up', async (t) => {
  t.equal(row(['\u001b', 'x'], [6]), '\\x1b    x\n')
})

t.test('jsonLine: the same JSON value, with nothing a terminal acts on left raw', async (t) => {
  const value = { name: 'a\u001b\u007f\u0085\u202e\u2028\u{e0041}"\\' }
  const out = jsonLine(value)
  t.equal(out, '{"name":"a\\u001b\\u007f\\u0085\\u202e\\u2028\\udb40\\udc41\\"\\\\"}\n')
  t.same(JSON.parse(out), value)
})

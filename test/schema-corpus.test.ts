import { getLlama, LlamaGrammar, LlamaLogLevel, type Llama } from 'node-llama-cpp'
import { beforeAll, describe, expect, it } from 'vitest'
import { classChar, gbnfText } from '../src/constraints/gbnf.js'
import { schemaConstraint } from '../src/constraints/schema-constraint.js'
import { toolCallGrammar } from '../src/constraints/tool-call-grammar.js'
import * as formats from '../src/engine/tool-call-formats.js'
import { InvalidRequestError } from '../src/errors.js'
import { llamaCppCases, openaiCases, pydanticCases, zodCases, type CorpusCase } from './helpers/schema-corpus.js'

/**
 * The schemas real clients send (zod 4, Pydantic 2, OpenAI's guides) and llama.cpp's own converter cases:
 * each is enforced (its grammar parses in llama.cpp) or refused with a 400 that names the keyword and its
 * pointer. The counts are asserted so that coverage never shrinks; the table is printed for the closing note.
 */
interface Outcome {
  c: CorpusCase
  enforced: boolean
  keyword?: string
}

let llama: Llama
const outcomes: Outcome[] = []

beforeAll(async () => {
  llama = await getLlama({ gpu: false, build: 'never', maxThreads: 1, logLevel: LlamaLogLevel.error })
  for (const c of [...zodCases(), ...pydanticCases(), ...openaiCases(), ...llamaCppCases()]) outcomes.push(classify(c))
}, 120_000)

function classify(c: CorpusCase): Outcome {
  try {
    const { gbnf } = schemaConstraint(c.schema, { param: 'schema', strict: true })
    new LlamaGrammar(llama, { grammar: gbnf })
    return { c, enforced: true }
  } catch (error) {
    expect(error, `${c.source} ${c.name}`).toBeInstanceOf(InvalidRequestError)
    const message = (error as Error).message
    // A refusal names the keyword and where it is, or quotes the validator's complaint about the schema.
    const named = /keyword '([^']+)' at '#[^']*'/.exec(message)?.[1] ?? (/does not compile|must be a JSON Schema/.test(message) ? 'schema' : undefined)
    expect(named, `${c.source} ${c.name}: ${message}`).toBeDefined()
    return { c, enforced: false, keyword: named! }
  }
}

const tally = (source: string) => {
  const mine = outcomes.filter((o) => o.c.source === source)
  return { cases: mine.length, enforced: mine.filter((o) => o.enforced).length, refused: mine.filter((o) => !o.enforced).length }
}

describe('schema corpus', () => {
  it('enforces what clients send; refusals are the few a grammar cannot express (counts only grow)', () => {
    const rows = ['zod', 'pydantic', 'openai', 'llama.cpp'].map((s) => ({ source: s, ...tally(s) }))
    console.log(JSON.stringify({ rows, refusals: outcomes.filter((o) => !o.enforced).map((o) => `${o.c.source} / ${o.c.name}: ${o.keyword}`) }, null, 1))
    expect(tally('zod').cases).toBe(76)
    expect(tally('zod').enforced).toBeGreaterThanOrEqual(75)
    expect(tally('pydantic').cases).toBe(24)
    expect(tally('pydantic').enforced).toBeGreaterThanOrEqual(23)
    expect(tally('openai')).toEqual({ cases: 13, enforced: 13, refused: 0 })
    // The ones refused, by name: a lookahead / \p{…} pattern, distinct items of an open set.
    const refused = outcomes.filter((o) => !o.enforced && o.c.source !== 'llama.cpp').map((o) => `${o.c.name}: ${o.keyword}`)
    for (const r of refused) expect(['emoji: pattern', 'multipleOf: multipleOf', 'set[int]: uniqueItems', 'Field(multiple_of=5): multipleOf']).toContain(r)
  })

  it("covers llama.cpp's own converter cases: what it accepts we enforce, what it refuses we refuse", () => {
    const cases = outcomes.filter((o) => o.c.source === 'llama.cpp')
    const accepted = cases.filter((o) => o.c.llamaAccepts)
    console.log(JSON.stringify({ cases: cases.length, llamaAccepts: accepted.length, weEnforce: cases.filter((o) => o.enforced).length }))
    // Read from the bundled llama.cpp at test time; a newer llama.cpp may add cases, never silently drop ours.
    expect(cases.length).toBeGreaterThanOrEqual(80)
    expect(cases.filter((o) => !o.c.llamaAccepts && o.enforced)).toEqual([])
    const disagreements = accepted.filter((o) => !o.enforced).map((o) => `${o.c.name}: ${o.keyword}`)
    // llama.cpp reads a prefixItems *object* as items (2020-12 requires an array: Ajv refuses that schema too)
    // and silently drops a lookahead pattern, answering output that does not validate.
    expect(disagreements.sort()).toEqual([
      'array with empty items and prefixItems: prefixItems',
      'nullable string array: prefixItems',
      'string array: prefixItems',
      'unsupported regexp in a property: pattern',
    ])
    expect(cases.filter((o) => o.enforced).length).toBeGreaterThanOrEqual(73)
  })
})

describe('GBNF spelling', () => {
  it('every character, in a class (first, negated, in a range) and in a literal, parses in llama.cpp', () => {
    const codes = [...Array.from({ length: 0x80 }, (_, i) => i), 0xa0, 0xe9, 0x2028, 0x4e2d, 0x1f600].filter((c) => c !== 0)
    const unparsed = codes.filter((code) => {
      const c = classChar(code)
      const gbnf = `root ::= [${c}] [^${c}] [${c}-${classChar(0x10ffff)}] ${gbnfText(String.fromCodePoint(code))}`
      try {
        new LlamaGrammar(llama, { grammar: gbnf })
        return false
      } catch {
        return true
      }
    })
    expect(unparsed.map((code) => `U+${code.toString(16)}`)).toEqual([])
  })

  it('a pattern with a caret inside its class is enforced, not refused', () => {
    const { gbnf } = schemaConstraint({ type: 'string', pattern: '^[\\^a-z]+$' }, { param: 'schema', strict: true })
    expect(() => new LlamaGrammar(llama, { grammar: gbnf })).not.toThrow()
  })

  it("every tool-call format's grammar parses in llama.cpp, for each tool choice", () => {
    const definitions = [{ name: 'f', parameters: { type: 'object', properties: { a: { type: 'integer' } } } }, { name: 'g', parameters: null }]
    const choices = [{ kind: 'required' }, { kind: 'auto' }, { kind: 'named', name: 'g' }] as const
    const named = Object.entries(formats).filter(([name]) => name.endsWith('_FORMAT'))
    expect(named.length).toBeGreaterThanOrEqual(14)
    const unparsed = named.flatMap(([name, format]) =>
      choices.filter((choice) => {
        try {
          new LlamaGrammar(llama, { grammar: toolCallGrammar(format as formats.ToolCallFormat, { definitions, choice, parallel: true })! })
          return false
        } catch {
          return true
        }
      }).map((choice) => `${name} ${choice.kind}`),
    )
    expect(unparsed).toEqual([])
  })
})

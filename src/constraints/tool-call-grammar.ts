import { classChar, gbnfText } from './gbnf.js'
import { formatRules } from './string-grammar.js'
import { jsonPrimitiveRules, jsonSchemaRules } from './json-schema-grammar.js'
import type { ToolCallFormat } from '../engine/tool-call-formats.js'
import type { ToolDefinition, ToolOptions } from '../generation/request.js'

/**
 * GBNF for the tool calls a request allows, in the model's call format. Every call is
 * `{"<nameKey>": "<tool>", "<argumentsKey>": <that tool's parameter schema>}`, name first (or, in a named
 * format, `<tool><nameClose><schema>`), one alternative per allowed tool; around the calls:
 *
 * - `required`: only calls, one or more (exactly one without parallel calls);
 * - `named`: exactly one call of that function;
 * - `auto`: text that never contains the format's marker, optionally followed by calls (for a format
 *   without a marker: either text that does not start with `{`, or calls).
 *
 * After the last call only the end may follow. Returns null for `none`: no grammar, the output stays
 * text. Throws UnsupportedSchemaError when a parameter schema cannot be enforced (the codec has already
 * converted each schema, relaxing what `strict: false` allowed, so this does not happen for decoded requests).
 * Grammars are cached by format and tools: agents send the same tools with every turn.
 */
export function toolCallGrammar(format: ToolCallFormat, tools: ToolOptions): string | null {
  if (tools.choice.kind === 'none') return null
  const key = JSON.stringify([format, tools.definitions, tools.choice, tools.parallel])
  let grammar = cache.get(key)
  if (grammar === undefined) {
    grammar = buildToolCallGrammar(format, tools)
    if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!)
    cache.set(key, grammar)
  }
  return grammar
}

const cache = new Map<string, string>()
const MAX_CACHED = 64

function buildToolCallGrammar(format: ToolCallFormat, tools: ToolOptions): string {
  const { choice } = tools
  const allowed = choice.kind === 'named' ? tools.definitions.filter((t) => t.name === choice.name) : tools.definitions
  if (allowed.length === 0) throw new Error(`no tool to call for tool choice ${JSON.stringify(choice)}`)
  const rules: string[] = []
  let usesFormats = false
  const body = format.body
  const alternatives = allowed.map((tool, i) => {
    const args = argumentsExpression(tool, `t${i}-`, rules, () => (usesFormats = true))
    if (body.kind === 'json') {
      const head = `{"${body.nameKey}": ${JSON.stringify(tool.name)}, "${body.argumentsKey}": `
      rules.push(`tool-call-${i} ::= ${piece(head)} ${args} "}"`)
    } else {
      const index = body.indexSuffix ? ' ":" [0-9]+' : ''
      rules.push(`tool-call-${i} ::= ${piece(body.namePrefix + tool.name)}${index} ${piece(body.nameClose)} ${args}`)
    }
    return `tool-call-${i}`
  })
  const call = [piece(format.callOpen), `( ${alternatives.join(' | ')} )`, piece(format.callClose)].filter(Boolean).join(' ')
  rules.push(`tool-call ::= ${call}`)
  const many = tools.parallel && choice.kind !== 'named'
  const repeat = many ? ` ( ${[piece(format.separator), 'tool-call'].filter(Boolean).join(' ')} )*` : ''
  rules.push(`tool-calls ::= ${[piece(format.begin), `tool-call${repeat}`, piece(format.end)].filter(Boolean).join(' ')}`)
  if (choice.kind === 'auto') {
    if (format.marker === null) {
      // No marker: a call is recognised by a leading `{`, so text may not start with one (or with blanks).
      rules.push('tool-text ::= [^{ \\t\\n\\r] [^\\x00]*')
      rules.unshift('root ::= tool-calls | tool-text | ""')
    } else {
      rules.push(...textWithout(format.marker, 'tool-text'))
      rules.unshift('root ::= tool-text-0 tool-calls?')
    }
  } else {
    rules.unshift('root ::= tool-calls')
  }
  return `${rules.join('\n')}\n${jsonPrimitiveRules()}${usesFormats ? formatRules() : ''}`
}

/** The arguments grammar: the tool's schema (an object), or exactly `{}` for a function without parameters. */
function argumentsExpression(tool: ToolDefinition, prefix: string, rules: string[], formats: () => void): string {
  if (tool.parameters === null) return '"{}"'
  const { expression, rules: own, usesFormats } = jsonSchemaRules(asObjectSchema(tool.parameters), { prefix })
  if (usesFormats) formats()
  rules.push(...own)
  return expression
}

/** Arguments are always an object: a schema that leaves the type open (e.g. `{}`) is read as one of type object. */
export function asObjectSchema(schema: object): object {
  const s = schema as Record<string, unknown>
  const open = s.type === undefined && !['$ref', 'anyOf', 'oneOf', 'enum', 'const'].some((k) => k in s)
  return open ? { ...s, type: 'object' } : schema
}

/**
 * Rules `<name>-k` (k = how much of `marker` the text ends with) whose language is every string that
 * does not contain `marker`: a matching automaton (KMP) written as right-recursive rules.
 */
export function textWithout(marker: string, name: string): string[] {
  const chars = [...new Set(marker)]
  const next = (state: number, c: string): number => {
    // Longest prefix of the marker that is a suffix of marker[0, state) + c.
    const seen = marker.slice(0, state) + c
    for (let k = Math.min(seen.length, marker.length); k > 0; k--) if (seen.endsWith(marker.slice(0, k))) return k
    return 0
  }
  const others = `[^${chars.map((c) => classChar(c.codePointAt(0)!)).join('')}]`
  const rules: string[] = []
  for (let state = 0; state < marker.length; state++) {
    const alternatives = ['""', `${others} ${name}-0`]
    for (const c of chars) {
      const to = next(state, c)
      if (to < marker.length) alternatives.push(`${gbnfText(c)} ${name}-${to}`)
    }
    rules.push(`${name}-${state} ::= ${alternatives.join(' | ')}`)
  }
  return rules
}

/** A GBNF literal for a format's piece; nothing at all where the format has none, so the rule stays readable. */
function piece(text: string): string {
  return text ? gbnfText(text) : ''
}

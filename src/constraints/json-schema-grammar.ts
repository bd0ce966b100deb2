/**
 * JSON Schema → GBNF (llama.cpp's grammar format), so that sampling can only produce JSON that validates.
 *
 * node-llama-cpp's own converter silently ignores keywords it cannot express (anyOf, required, pattern,
 * minimum…), which is how peers end up answering 200 with output that does not validate. Here every
 * keyword is either enforced by the grammar or refused with an UnsupportedSchemaError naming it and its
 * path. Annotations (title, description, examples, …) are accepted and ignored.
 */

export class UnsupportedSchemaError extends Error {
  constructor(
    readonly keyword: string,
    readonly path: string,
    detail = '',
  ) {
    super(`JSON Schema keyword '${keyword}' at '${path || '#'}' cannot be enforced${detail ? `: ${detail}` : ''}.`)
  }
}

type Schema = Record<string, unknown> | boolean

/** Keywords that change nothing about which values are valid. */
const ANNOTATIONS = new Set([
  '$schema', '$id', '$comment', 'title', 'description', 'examples', 'default', 'deprecated', 'readOnly', 'writeOnly',
  '$defs', 'definitions', 'strict', 'name',
])

const FORMATS: Record<string, string> = {
  date: 'date',
  time: 'time',
  'date-time': 'date "T" time',
  uuid: 'hex8 "-" hex4 "-" hex4 "-" hex4 "-" hex12',
}

/** Largest integer magnitude the grammar emits (15 digits: exact in a double). */
const MAX_DIGITS = 15

const PRIMITIVES = `
ws ::= | " " | "\\n" [ \\t]{0,16}
value ::= object | array | string | number | boolean | null
object ::= "{" ws ( string ws ":" ws value ( ws "," ws string ws ":" ws value )* )? ws "}"
array ::= "[" ws ( value ( ws "," ws value )* )? ws "]"
string ::= "\\"" char* "\\""
char ::= [^"\\\\\\x7F\\x00-\\x1F] | "\\\\" ( ["\\\\/bfnrt] | "u" [0-9a-fA-F]{4} )
number ::= integer ( "." [0-9]{1,15} )? ( [eE] [-+]? [0-9]{1,2} )?
integer ::= "-"? ( "0" | [1-9] [0-9]{0,${MAX_DIGITS - 1}} )
boolean ::= "true" | "false"
null ::= "null"
date ::= [0-9]{4} "-" ( ( "01" | "03" | "05" | "07" | "08" | "10" | "12" ) "-" day31 | ( "04" | "06" | "09" | "11" ) "-" day30 | "02" "-" day28 )
day28 ::= "0" [1-9] | "1" [0-9] | "2" [0-8]
day30 ::= day28 | "29" | "30"
day31 ::= day30 | "31"
time ::= ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]{1,6} )? "Z"
hex4 ::= [0-9a-fA-F]{4}
hex8 ::= hex4 hex4
hex12 ::= hex4 hex4 hex4
`

/** GBNF for any JSON object: `response_format: {type: "json_object"}`. */
export function jsonObjectGrammar(): string {
  return `root ::= object${PRIMITIVES}`
}

/** GBNF whose language is exactly the JSON texts that validate against `schema` (or a refusal). */
export function jsonSchemaGrammar(schema: unknown): string {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw new UnsupportedSchemaError('schema', '', 'a JSON Schema must be an object')
  }
  const { expression, rules } = jsonSchemaRules(schema, '')
  return `root ::= ${expression}\n${rules.join('\n')}${PRIMITIVES}`
}

/**
 * The pieces of a schema's grammar, for embedding it in a larger grammar (tool-call arguments): an
 * expression for the value and the rules it needs, named with `prefix` so several schemas can share one
 * grammar. The shared primitives (`value`, `string`, `ws`…) come from `jsonPrimitiveRules()`, once.
 */
export function jsonSchemaRules(schema: unknown, prefix: string): { expression: string; rules: string[] } {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw new UnsupportedSchemaError('schema', '', 'a JSON Schema must be an object')
  }
  const converter = new Converter(schema as Record<string, unknown>, prefix)
  const expression = converter.visit(schema as Schema, '')
  return { expression, rules: converter.rules }
}

/** The primitive rules (`ws`, `value`, `object`, `string`, `number`…) every schema grammar refers to. */
export function jsonPrimitiveRules(): string {
  return PRIMITIVES
}

class Converter {
  readonly rules: string[] = []
  private readonly names = new Map<string, string>()
  private counter = 0

  constructor(
    private readonly document: Record<string, unknown>,
    private readonly prefix = '',
  ) {}

  /** Returns a GBNF expression for the schema, adding the rules it needs. */
  visit(schema: Schema, path: string): string {
    if (schema === true) return 'value'
    if (schema === false) throw new UnsupportedSchemaError('false', path, 'no value can match it')
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
      throw new UnsupportedSchemaError('schema', path, 'not a schema object')
    }
    const handled = new Set<string>()
    const take = (keyword: string) => {
      handled.add(keyword)
      return schema[keyword]
    }
    const expression = this.expression(schema, path, take)
    for (const keyword of Object.keys(schema)) {
      if (!handled.has(keyword) && !ANNOTATIONS.has(keyword)) throw new UnsupportedSchemaError(keyword, `${path}/${keyword}`)
    }
    return expression
  }

  private expression(schema: Record<string, unknown>, path: string, take: (k: string) => unknown): string {
    const ref = take('$ref')
    if (ref !== undefined) return this.reference(ref, path)
    const constant = take('const')
    if (constant !== undefined) return literal(constant)
    const choices = take('enum')
    if (choices !== undefined) {
      if (!Array.isArray(choices) || choices.length === 0) throw new UnsupportedSchemaError('enum', `${path}/enum`, 'must be a non-empty array')
      return `( ${choices.map(literal).join(' | ')} )`
    }
    for (const keyword of ['anyOf', 'oneOf'] as const) {
      const branches = take(keyword)
      if (branches === undefined) continue
      if (!Array.isArray(branches) || branches.length === 0) throw new UnsupportedSchemaError(keyword, `${path}/${keyword}`, 'must be a non-empty array')
      // oneOf is generated like anyOf; the final validation catches a value matching two branches.
      return `( ${branches.map((b, i) => this.visit(b as Schema, `${path}/${keyword}/${i}`)).join(' | ')} )`
    }
    const type = take('type')
    const types = type === undefined ? inferTypes(schema) : Array.isArray(type) ? type : [type]
    if (types.length === 0) return 'value'
    return `( ${types.map((t) => this.typed(String(t), schema, path, take)).join(' | ')} )`
  }

  private typed(type: string, schema: Record<string, unknown>, path: string, take: (k: string) => unknown): string {
    switch (type) {
      case 'null':
        return 'null'
      case 'boolean':
        return 'boolean'
      case 'integer':
        return this.integer(path, take)
      case 'number':
        return this.number(path, take)
      case 'string':
        return this.string(path, take)
      case 'array':
        return this.array(path, take)
      case 'object':
        return this.object(schema, path, take)
      default:
        throw new UnsupportedSchemaError('type', `${path}/type`, `unknown type '${type}'`)
    }
  }

  private reference(ref: unknown, path: string): string {
    const match = typeof ref === 'string' ? /^#\/(\$defs|definitions)\/([^/]+)$/.exec(ref) : null
    if (!match) throw new UnsupportedSchemaError('$ref', `${path}/$ref`, 'only local #/$defs/… references are supported')
    let name = this.names.get(ref as string)
    if (name) return name
    const target = (this.document[match[1]!] as Record<string, Schema> | undefined)?.[match[2]!]
    if (target === undefined) throw new UnsupportedSchemaError('$ref', `${path}/$ref`, `'${String(ref)}' is not defined`)
    name = `${this.prefix}def-${this.counter++}`
    this.names.set(ref as string, name) // before visiting, so recursive schemas end at the reference
    this.rules.push(`${name} ::= ${this.visit(target, `#/${match[1]}/${match[2]}`)}`)
    return name
  }

  private integer(path: string, take: (k: string) => unknown): string {
    refuse(take, path, 'multipleOf', (v) => v === 1)
    const bounds = integerBounds(path, take)
    if (bounds.lo === null && bounds.hi === null) return 'integer'
    const limit = 10 ** MAX_DIGITS - 1
    return this.rule(integerRange(bounds.lo ?? -limit, bounds.hi ?? limit, path))
  }

  /** Bounded numbers: integer-valued, non-negative bounds only (e.g. 0–1, 1–5); others are refused. */
  private number(path: string, take: (k: string) => unknown): string {
    refuse(take, path, 'multipleOf', () => false)
    refuse(take, path, 'exclusiveMinimum', () => false)
    refuse(take, path, 'exclusiveMaximum', () => false)
    const lo = take('minimum')
    const hi = take('maximum')
    if (lo === undefined && hi === undefined) return 'number'
    const integral = (v: unknown) => v === undefined || (typeof v === 'number' && Number.isInteger(v) && v >= 0)
    if (!integral(lo) || !integral(hi)) {
      throw new UnsupportedSchemaError(lo !== undefined && !integral(lo) ? 'minimum' : 'maximum', path, 'number bounds must be non-negative integers')
    }
    const low = (lo as number | undefined) ?? 0
    const high = hi as number | undefined
    const fraction = '( "." [0-9]{1,15} )?'
    if (high === undefined) return this.rule(`${this.rule(integerRange(low, 10 ** MAX_DIGITS - 1, path))} ${fraction}`)
    if (high < low) throw new UnsupportedSchemaError('maximum', path, 'maximum is below minimum')
    // Below the maximum any fraction fits; the maximum itself only as a whole number.
    const below = high > low ? `${this.rule(integerRange(low, high - 1, path))} ${fraction} | ` : ''
    return this.rule(`${below}"${high}" ( "." "0"{1,15} )?`)
  }

  private string(path: string, take: (k: string) => unknown): string {
    refuse(take, path, 'pattern', () => false)
    refuse(take, path, 'contentEncoding', () => false)
    refuse(take, path, 'contentMediaType', () => false)
    const format = take('format')
    const min = nonNegative(take('minLength'), 'minLength', path) ?? 0
    const max = nonNegative(take('maxLength'), 'maxLength', path)
    if (format !== undefined) {
      const grammar = FORMATS[String(format)]
      if (!grammar) throw new UnsupportedSchemaError('format', `${path}/format`, `format '${String(format)}' (supported: ${Object.keys(FORMATS).join(', ')})`)
      if (min > 0 || max !== null) throw new UnsupportedSchemaError('minLength', path, 'length limits together with a format')
      return this.rule(`"\\"" ${grammar} "\\""`)
    }
    if (min === 0 && max === null) return 'string'
    if (max !== null && max < min) throw new UnsupportedSchemaError('maxLength', path, 'maxLength is below minLength')
    return this.rule(`"\\"" char{${min},${max ?? ''}} "\\""`)
  }

  private array(path: string, take: (k: string) => unknown): string {
    refuse(take, path, 'uniqueItems', (v) => v === false)
    refuse(take, path, 'contains', () => false)
    const prefix = take('prefixItems')
    const items = take('items')
    const min = nonNegative(take('minItems'), 'minItems', path) ?? 0
    const max = nonNegative(take('maxItems'), 'maxItems', path)
    if (max !== null && max < min) throw new UnsupportedSchemaError('maxItems', path, 'maxItems is below minItems')
    if (prefix !== undefined) {
      if (!Array.isArray(prefix)) throw new UnsupportedSchemaError('prefixItems', `${path}/prefixItems`, 'must be an array')
      if (items !== undefined && items !== false) throw new UnsupportedSchemaError('items', `${path}/items`, 'items after prefixItems')
      if (min !== 0 || max !== null) throw new UnsupportedSchemaError('minItems', path, 'item counts together with prefixItems')
      const parts = prefix.map((p, i) => this.visit(p as Schema, `${path}/prefixItems/${i}`))
      return this.rule(`"[" ws ${parts.join(' ws "," ws ')} ws "]"`)
    }
    const item = items === undefined ? 'value' : this.visit(items as Schema, `${path}/items`)
    if (max === 0) return this.rule('"[" ws "]"')
    const rest = `( ws "," ws ${item} ){${Math.max(min - 1, 0)},${max === null ? '' : max - 1}}`
    const body = `${item} ${rest}`
    return this.rule(min === 0 ? `"[" ws ( ${body} )? ws "]"` : `"[" ws ${body} ws "]"`)
  }

  /**
   * Properties come out in declaration order; required ones always, optional ones may be left out.
   * With n properties, rule pairs rest-k-first / rest-k-after say what may follow before any property
   * or after one (so commas are right whichever optional properties appear).
   */
  private object(schema: Record<string, unknown>, path: string, take: (k: string) => unknown): string {
    for (const keyword of ['patternProperties', 'propertyNames', 'minProperties', 'maxProperties', 'dependentRequired', 'dependentSchemas', 'unevaluatedProperties']) {
      refuse(take, path, keyword, () => false)
    }
    const properties = (take('properties') ?? {}) as Record<string, Schema>
    const required = new Set((take('required') ?? []) as string[])
    const additional = take('additionalProperties')
    for (const name of required) {
      if (!(name in properties)) throw new UnsupportedSchemaError('required', `${path}/required`, `'${name}' has no schema in properties`)
    }
    const names = Object.keys(properties)
    if (names.length === 0) {
      if (additional === false) return this.rule('"{" ws "}"')
      // A dictionary: any keys, values of the given schema.
      const valueRule = additional === undefined || additional === true ? 'value' : this.visit(additional as Schema, `${path}/additionalProperties`)
      return this.rule(`"{" ws ( string ws ":" ws ${valueRule} ( ws "," ws string ws ":" ws ${valueRule} )* )? ws "}"`)
    }
    // With declared properties, only they are generated: extra ones are optional, so output stays valid.
    if (additional !== undefined && typeof additional === 'object') this.visit(additional as Schema, `${path}/additionalProperties`)
    const id = this.counter++
    const pair = names.map((name) => `${literal(name)} ws ":" ws ${this.visit(properties[name]!, `${path}/properties/${name}`)}`)
    const rest = (k: number, after: boolean) => (k === names.length ? '""' : `${this.prefix}obj-${id}-${k}-${after ? 'after' : 'first'}`)
    for (let k = names.length - 1; k >= 0; k--) {
      const present = `${pair[k]} ${rest(k + 1, true)}`
      const optional = !required.has(names[k]!)
      this.rules.push(`${this.prefix}obj-${id}-${k}-first ::= ${present}${optional ? ` | ${rest(k + 1, false)}` : ''}`)
      this.rules.push(`${this.prefix}obj-${id}-${k}-after ::= ws "," ws ${present}${optional ? ` | ${rest(k + 1, true)}` : ''}`)
    }
    return this.rule(`"{" ws ${rest(0, false)} ws "}"`)
  }

  private rule(body: string): string {
    const name = `${this.prefix}r-${this.counter++}`
    this.rules.push(`${name} ::= ${body}`)
    return name
  }
}

/** Types a schema without `type` allows, judged by its keywords (none: any value). */
function inferTypes(schema: Record<string, unknown>): string[] {
  if ('properties' in schema || 'additionalProperties' in schema || 'required' in schema) return ['object']
  if ('items' in schema || 'prefixItems' in schema || 'minItems' in schema || 'maxItems' in schema) return ['array']
  if ('minLength' in schema || 'maxLength' in schema || 'format' in schema || 'pattern' in schema) return ['string']
  if ('minimum' in schema || 'maximum' in schema) return ['number']
  return []
}

function refuse(take: (k: string) => unknown, path: string, keyword: string, isHarmless: (value: unknown) => boolean): void {
  const value = take(keyword)
  if (value !== undefined && !isHarmless(value)) throw new UnsupportedSchemaError(keyword, `${path}/${keyword}`)
}

function nonNegative(value: unknown, keyword: string, path: string): number | null {
  if (value === undefined) return null
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new UnsupportedSchemaError(keyword, `${path}/${keyword}`, 'must be a non-negative integer')
  }
  return value
}

function integerBounds(path: string, take: (k: string) => unknown): { lo: number | null; hi: number | null } {
  const bound = (keyword: string) => {
    const v = take(keyword)
    if (v === undefined) return null
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new UnsupportedSchemaError(keyword, `${path}/${keyword}`, 'must be a number')
    return v
  }
  const min = bound('minimum')
  const max = bound('maximum')
  const exMin = bound('exclusiveMinimum')
  const exMax = bound('exclusiveMaximum')
  const los = [min === null ? null : Math.ceil(min), exMin === null ? null : Math.floor(exMin) + 1].filter((v): v is number => v !== null)
  const his = [max === null ? null : Math.floor(max), exMax === null ? null : Math.ceil(exMax) - 1].filter((v): v is number => v !== null)
  const lo = los.length ? Math.max(...los) : null
  const hi = his.length ? Math.min(...his) : null
  if (lo !== null && hi !== null && hi < lo) throw new UnsupportedSchemaError('maximum', path, 'no integer lies within the bounds')
  for (const v of [lo, hi]) {
    if (v !== null && Math.abs(v) >= 10 ** MAX_DIGITS) throw new UnsupportedSchemaError('maximum', path, `bounds beyond ${MAX_DIGITS} digits`)
  }
  return { lo, hi }
}

/** GBNF alternatives for the decimal integers in [lo, hi], without leading zeros. */
export function integerRange(lo: number, hi: number, path = ''): string {
  if (hi < lo) throw new UnsupportedSchemaError('maximum', path, 'no integer lies within the bounds')
  const parts: string[] = []
  if (lo < 0) {
    // Negative part: "-" followed by magnitudes in [max(1, -hi), -lo].
    const magnitudeLo = Math.max(1, -Math.min(hi, -1))
    parts.push(`"-" ( ${naturalRange(magnitudeLo, -lo).join(' | ')} )`)
  }
  if (hi >= 0) parts.push(...naturalRange(Math.max(lo, 0), hi))
  return parts.join(' | ')
}

/** Alternatives for the naturals in [lo, hi] (0 ≤ lo ≤ hi), split by digit count. */
function naturalRange(lo: number, hi: number): string[] {
  const out: string[] = []
  for (let digits = String(lo).length; digits <= String(hi).length; digits++) {
    const from = Math.max(lo, digits === 1 ? 0 : 10 ** (digits - 1))
    const to = Math.min(hi, 10 ** digits - 1)
    if (from <= to) out.push(...sameLength(String(from), String(to)))
  }
  return out
}

/** Alternatives for the numbers between two equal-length digit strings, digit by digit. */
function sameLength(from: string, to: string): string[] {
  if (from.length === 0) return ['""']
  if (from === to) return [`"${from}"`]
  const [a, b] = [Number(from[0]), Number(to[0])]
  const restLength = from.length - 1
  const anyRest = restLength > 0 ? ` [0-9]{${restLength}}` : ''
  if (a === b) return sameLength(from.slice(1), to.slice(1)).map((tail) => `"${a}" ( ${tail} )`)
  const out: string[] = []
  // First digit a, rest ≥ from's rest.
  out.push(...(restLength ? sameLength(from.slice(1), '9'.repeat(restLength)).map((t) => `"${a}" ( ${t} )`) : [`"${a}"`]))
  if (b - a > 1) out.push(`[${a + 1}-${b - 1}]${anyRest}`)
  // First digit b, rest ≤ to's rest.
  out.push(...(restLength ? sameLength('0'.repeat(restLength), to.slice(1)).map((t) => `"${b}" ( ${t} )`) : [`"${b}"`]))
  return out
}

/** A JSON value as a GBNF string literal. */
export function literal(value: unknown): string {
  return JSON.stringify(JSON.stringify(value))
}

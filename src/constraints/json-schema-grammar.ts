import { arrayExpression } from './array-grammar.js'
import { decimalRange, decimalText, type DecimalBound } from './decimal-range.js'
import { literal, PRIMITIVES } from './gbnf.js'
import type { GrammarContext, Take } from './grammar-context.js'
import { MAX_DIGITS, MAX_DIVISOR, multipleOfExpression } from './multiple-of.js'
import { objectExpression } from './object-grammar.js'
import { isSchemaObject, jsonType, mergeSchemas, resolveRef, satisfiesSiblings, schemaDraft, VALIDATION_KEYWORDS, type Draft, type SchemaObject } from './schema-document.js'
import { invalidSchema, UnsupportedSchemaError, pastBudget } from './schema-error.js'
import { formatRules, stringExpression } from './string-grammar.js'

/**
 * JSON Schema → GBNF (llama.cpp's grammar format), so that sampling can only produce JSON that validates.
 *
 * node-llama-cpp's own converter silently ignores keywords it cannot express, which is how peers answer
 * 200 with output that does not validate. Here every validation keyword is enforced by the grammar,
 * refused with an UnsupportedSchemaError naming it and its JSON pointer, or (strict: false) recorded as
 * relaxed. Annotations are accepted and ignored.
 */

/** A keyword left out of the grammar under `strict: false`. */
export interface RelaxedKeyword {
  keyword: string
  pointer: string
}

export interface ConvertOptions {
  /** Prefix for rule names, so several schemas can share one grammar (tool calls). */
  prefix?: string
  /** false: unenforceable keywords are relaxed (recorded) instead of refused. Defaults to true. */
  strict?: boolean
}

/**
 * Past these, conversion stops with a 400 naming the keyword it was on. llama.cpp parses grammars
 * synchronously (~15 ms per 128 kB of plain rules, far more for huge alternations), so the size bound is
 * what keeps other requests' steps flowing; the time bound is a safety net set high enough that a loaded
 * machine never trips it for a schema within the size bound.
 */
export const GRAMMAR_BUDGET = { bytes: 128 * 1024, ms: 2000 }

export interface SchemaRules {
  expression: string
  rules: string[]
  relaxed: RelaxedKeyword[]
  /** Whether the rules use the format rules (`formatRules()`), which the grammar must then include. */
  usesFormats: boolean
}

/** GBNF for any JSON object: `response_format: {type: "json_object"}`. */
export function jsonObjectGrammar(): string {
  return `root ::= object${PRIMITIVES}`
}

/** The primitive rules (`ws`, `value`, `object`, `string`, `number`…) every schema grammar refers to. */
export function jsonPrimitiveRules(): string {
  return PRIMITIVES
}

/** A whole grammar whose language is the JSON texts valid against `schema`. */
export function jsonSchemaGrammar(schema: unknown, options: ConvertOptions = {}): { gbnf: string; relaxed: RelaxedKeyword[] } {
  const { expression, rules, relaxed, usesFormats } = jsonSchemaRules(schema, options)
  return { gbnf: `root ::= ${expression}\n${rules.join('\n')}${PRIMITIVES}${usesFormats ? formatRules() : ''}`, relaxed }
}

/** The pieces of a schema's grammar, for embedding it in a larger grammar (tool-call arguments). */
export function jsonSchemaRules(schema: unknown, options: ConvertOptions = {}): SchemaRules {
  if (!isSchemaObject(schema) && typeof schema !== 'boolean') throw invalidSchema('schema', '', 'a JSON Schema must be an object or a boolean')
  const converter = new Converter(isSchemaObject(schema) ? schema : {}, options)
  const expression = converter.visit(schema, '')
  return { expression, rules: converter.rules, relaxed: converter.relaxed, usesFormats: converter.usesFormats }
}

class Converter implements GrammarContext {
  readonly rules: string[] = []
  readonly relaxed: RelaxedKeyword[] = []
  usesFormats = false
  private readonly refNames = new Map<string, string>()
  private counter = 0
  private bytes = 0
  private readonly started = performance.now()
  private current = { keyword: 'schema', pointer: '' }
  private readonly prefix: string
  private readonly strict: boolean
  /** Arrays read `items` / `prefixItems` as the schema's draft does. */
  private readonly draft: Draft
  private inlining = 0

  constructor(
    private readonly document: SchemaObject,
    options: ConvertOptions,
  ) {
    this.prefix = options.prefix ?? ''
    this.strict = options.strict ?? true
    this.draft = schemaDraft(document)
  }

  visit(schema: unknown, pointer: string): string {
    if (schema === true) return 'value'
    if (schema === false) throw invalidSchema('false', pointer, 'the schema false allows no value')
    if (!isSchemaObject(schema)) throw invalidSchema('schema', pointer, 'not a schema object')
    const handled = new Set<string>()
    const take: Take = (keyword) => {
      handled.add(keyword)
      if (VALIDATION_KEYWORDS.has(keyword) && Object.hasOwn(schema, keyword)) this.current = { keyword, pointer: `${pointer}/${keyword}` }
      return schema[keyword]
    }
    const expression = this.expression(schema, pointer, take)
    this.charge(expression.length)
    for (const keyword of Object.keys(schema)) {
      if (VALIDATION_KEYWORDS.has(keyword) && !handled.has(keyword)) this.relax(new UnsupportedSchemaError(keyword, `${pointer}/${keyword}`))
    }
    return expression
  }

  relax(error: UnsupportedSchemaError): void {
    if (this.strict || !error.relaxable) throw error
    this.relaxed.push({ keyword: error.keyword, pointer: error.pointer })
  }

  rule(body: string): string {
    const name = `${this.prefix}r-${this.counter++}`
    this.define(name, body)
    return name
  }

  stem(tag: string): string {
    return `${this.prefix}${tag}-${this.counter++}`
  }

  define(name: string, body: string): void {
    this.charge(name.length + body.length + 5)
    this.rules.push(`${name} ::= ${body}`)
  }

  private charge(bytes: number): void {
    this.bytes += bytes
    if (this.bytes > GRAMMAR_BUDGET.bytes || performance.now() - this.started > GRAMMAR_BUDGET.ms) {
      const { keyword, pointer } = this.current
      throw pastBudget(keyword, pointer, `the grammar would pass ${GRAMMAR_BUDGET.bytes / 1024} kB or ${GRAMMAR_BUDGET.ms} ms; simplify the schema`)
    }
  }

  private expression(schema: SchemaObject, pointer: string, take: Take): string {
    const siblings = () => Object.keys(schema).filter((k) => VALIDATION_KEYWORDS.has(k) && !['$ref', 'allOf', 'anyOf', 'oneOf'].includes(k))
    if (schema.allOf !== undefined || (schema.$ref !== undefined && siblings().length > 0)) return this.conjunction(schema, pointer, take)
    if (schema.$ref !== undefined) return this.reference(take('$ref'), `${pointer}/$ref`)
    for (const keyword of ['anyOf', 'oneOf'] as const) {
      if (schema[keyword] === undefined) continue
      const branches = take(keyword)
      if (!Array.isArray(branches) || branches.length === 0) throw invalidSchema(keyword, `${pointer}/${keyword}`, 'must be a non-empty array')
      if (keyword === 'oneOf' && !disjoint(branches.map((b) => (isSchemaObject(b) && typeof b.$ref === 'string' ? this.inline(b.$ref, pointer) : b)))) {
        this.relax(new UnsupportedSchemaError('oneOf', `${pointer}/oneOf`, 'branches that may overlap (only one may match); use anyOf'))
      }
      const rest = siblings()
      if (rest.length === 0) return this.group(branches.map((b, i) => this.visit(b, `${pointer}/${keyword}/${i}`)))
      // A ∧ (B ∨ C) = (A ∧ B) ∨ (A ∧ C): the keywords beside the union go into each branch.
      const shared = Object.fromEntries(rest.map((k) => [k, take(k)]))
      const other = keyword === 'anyOf' && schema.oneOf !== undefined ? { oneOf: take('oneOf') } : {}
      return this.group(branches.map((b, i) => this.visit(mergeSchemas([shared, other, isSchemaObject(b) ? b : {}], keyword, `${pointer}/${keyword}/${i}`), `${pointer}/${keyword}/${i}`)))
    }
    if (schema.const !== undefined || schema.enum !== undefined) return this.choice(schema, pointer, take)
    const type = take('type')
    if (type !== undefined && typeof type !== 'string' && !(Array.isArray(type) && type.every((t) => typeof t === 'string'))) {
      throw invalidSchema('type', `${pointer}/type`, 'must be a type name or an array of them')
    }
    const types = type === undefined ? inferTypes(schema) : Array.isArray(type) ? (type as string[]) : [type as string]
    if (types.length === 0) return 'value'
    return this.group(types.map((t) => this.typed(t, pointer, take)))
  }

  /** allOf, or $ref with sibling keywords: merged into one schema (refs resolved first). */
  private conjunction(schema: SchemaObject, pointer: string, take: Take): string {
    const all = take('allOf') ?? []
    if (!Array.isArray(all) || (schema.allOf !== undefined && all.length === 0)) throw invalidSchema('allOf', `${pointer}/allOf`, 'must be a non-empty array')
    if (++this.inlining > 64) throw pastBudget('allOf', `${pointer}/allOf`, 'references that merge into themselves')
    try {
      const own: SchemaObject = {}
      for (const key of Object.keys(schema)) if (key !== 'allOf' && key !== '$ref') own[key] = take(key)
      const parts: SchemaObject[] = [own]
      if (schema.$ref !== undefined) parts.push(this.inline(take('$ref'), `${pointer}/$ref`))
      all.forEach((part, i) => {
        if (part === false) throw invalidSchema('allOf', `${pointer}/allOf/${i}`, 'the schema false allows no value')
        if (part === true) return
        if (!isSchemaObject(part)) throw invalidSchema('allOf', `${pointer}/allOf/${i}`, 'not a schema object')
        const { $ref, ...rest } = part
        parts.push(rest)
        if ($ref !== undefined) parts.push(this.inline($ref, `${pointer}/allOf/${i}/$ref`))
      })
      return this.visit(mergeSchemas(parts, 'allOf', `${pointer}/allOf`), pointer)
    } finally {
      this.inlining--
    }
  }

  private inline(ref: unknown, pointer: string): SchemaObject {
    const target = resolveRef(this.document, ref, pointer).schema
    if (target === false) throw invalidSchema('$ref', pointer, 'the referenced schema allows no value')
    return target === true ? {} : target
  }

  private reference(ref: unknown, pointer: string): string {
    const target = resolveRef(this.document, ref, pointer)
    const known = this.refNames.get(target.pointer)
    if (known) return known
    const name = this.stem('ref')
    this.refNames.set(target.pointer, name) // before visiting, so recursive schemas end at the reference
    this.define(name, this.visit(target.schema, target.pointer))
    return name
  }

  /** enum / const: the listed values that also satisfy the keywords beside them. */
  private choice(schema: SchemaObject, pointer: string, take: Take): string {
    const keyword = schema.const !== undefined ? 'const' : 'enum'
    const listed = take(keyword)
    if (keyword === 'enum' && (!Array.isArray(listed) || listed.length === 0)) throw invalidSchema('enum', `${pointer}/enum`, 'must be a non-empty array')
    let values = keyword === 'const' ? [listed] : (listed as unknown[])
    if (keyword === 'const' && schema.enum !== undefined) values = values.filter((v) => (take('enum') as unknown[]).some((e) => JSON.stringify(e) === JSON.stringify(v)))
    // Checked against the keywords beside the list, not the list itself (that would be quadratic).
    const { enum: _enum, const: _const, ...siblings } = schema
    values = values.filter((v) => satisfiesSiblings(v, siblings))
    if (values.length === 0) throw invalidSchema(keyword, `${pointer}/${keyword}`, 'no listed value satisfies the keywords beside it')
    const structured = values.some((v) => typeof v === 'object' && v !== null)
    for (const key of Object.keys(schema)) {
      // Scalars were checked against every keyword that applies to them; objects and arrays still need theirs.
      if (!structured || ['type', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength', 'pattern'].includes(key)) take(key)
    }
    return this.group(values.map(literal))
  }

  private typed(type: string, pointer: string, take: Take): string {
    switch (type) {
      case 'null':
        return 'null'
      case 'boolean':
        return 'boolean'
      case 'integer':
      case 'number':
        return this.numeric(type, pointer, take)
      case 'string': {
        const k = { pattern: take('pattern'), format: take('format'), minLength: take('minLength'), maxLength: take('maxLength') }
        take('contentEncoding')
        take('contentMediaType')
        const { expression, usesFormats } = stringExpression(k, pointer, (e) => this.relax(e), (body) => this.rule(body))
        this.usesFormats ||= usesFormats
        return expression === 'string' ? expression : this.rule(expression)
      }
      case 'array':
        return arrayExpression(this, take, pointer, this.draft)
      case 'object':
        return objectExpression(this, take, pointer)
      default:
        throw invalidSchema('type', `${pointer}/type`, `unknown type '${type}'`)
    }
  }

  /** Bounds of any size, inclusive or exclusive (draft-04's boolean form too), for integers and decimals. */
  private numeric(type: 'integer' | 'number', pointer: string, take: Take): string {
    const multipleOf = take('multipleOf')
    if (multipleOf !== undefined && (typeof multipleOf !== 'number' || !(multipleOf > 0))) throw invalidSchema('multipleOf', `${pointer}/multipleOf`, 'must be a positive number')
    // A whole divisor: integers only (valid for `number` too); 1 on integers changes nothing.
    const divisor = Number.isInteger(multipleOf) && multipleOf !== 1 ? (multipleOf as number) : null
    if (multipleOf !== undefined && multipleOf !== 1 && (divisor === null || divisor > MAX_DIVISOR)) {
      this.relax(new UnsupportedSchemaError('multipleOf', `${pointer}/multipleOf`, `only whole divisors up to ${MAX_DIVISOR}`))
    }
    if (multipleOf === 1 && type === 'number') type = 'integer'
    const number = (keyword: string): number | boolean | undefined => {
      const v = take(keyword)
      if (v === undefined) return undefined
      if (typeof v === 'boolean' && keyword.startsWith('exclusive')) return v
      if (typeof v !== 'number' || !Number.isFinite(v)) throw invalidSchema(keyword, `${pointer}/${keyword}`, 'must be a finite number')
      return v
    }
    const [min, max, exMin, exMax] = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'].map(number)
    const lo = tighter(min as number | undefined, exMin, true)
    const hi = tighter(max as number | undefined, exMax, false)
    if (divisor !== null && divisor <= MAX_DIVISOR) {
      // Any 15-digit multiple lies within bounds that contain ±(10^15 − 1) (zod's safe-integer bounds do).
      const wide = (b: DecimalBound | null, lower: boolean) => b === null || (lower ? Number(b.value) <= -(10 ** MAX_DIGITS - 1) : Number(b.value) >= 10 ** MAX_DIGITS - 1)
      if (wide(lo, true) && wide(hi, false)) return multipleOfExpression(this, divisor)
      this.relax(new UnsupportedSchemaError('multipleOf', `${pointer}/multipleOf`, 'a divisor together with narrower bounds'))
    }
    if (lo === null && hi === null) return type
    const bounds = type === 'integer' ? [integerBound(lo, true), integerBound(hi, false)] : [lo, hi]
    const expression = decimalRange(bounds[0]!, bounds[1]!, type === 'number')
    if (expression === null) throw invalidSchema(hi === null ? 'minimum' : 'maximum', pointer, `no ${type} lies within the bounds`)
    return this.rule(expression)
  }

  private group(parts: string[]): string {
    const unique = [...new Set(parts)]
    return unique.length === 1 ? unique[0]! : `( ${unique.join(' | ')} )`
  }
}

/** The tighter of an inclusive bound and an exclusive one (a number, or draft-04's boolean on the inclusive one). */
function tighter(inclusive: number | undefined, exclusive: number | boolean | undefined, lower: boolean): DecimalBound | null {
  if (typeof exclusive === 'boolean') return inclusive === undefined ? null : { value: decimalText(inclusive), exclusive }
  const candidates: Array<{ x: number; exclusive: boolean }> = []
  if (inclusive !== undefined) candidates.push({ x: inclusive, exclusive: false })
  if (exclusive !== undefined) candidates.push({ x: exclusive, exclusive: true })
  if (candidates.length === 0) return null
  candidates.sort((a, b) => (a.x === b.x ? (a.exclusive ? -1 : 1) : lower ? b.x - a.x : a.x - b.x))
  return { value: decimalText(candidates[0]!.x), exclusive: candidates[0]!.exclusive }
}

/** An integer bound made inclusive: the first integer within it. */
function integerBound(bound: DecimalBound | null, lower: boolean): DecimalBound | null {
  if (bound === null) return null
  const [whole, fraction = ''] = bound.value.split('.')
  let n = BigInt(whole!)
  const negative = bound.value.startsWith('-')
  if (fraction !== '' && /[1-9]/.test(fraction)) {
    // Truncation went towards zero: step to the right side of the bound.
    if (lower && !negative) n += 1n
    if (!lower && negative) n -= 1n
  } else if (bound.exclusive) {
    n += lower ? 1n : -1n
  }
  return { value: n.toString(), exclusive: false }
}

/** Types a schema without `type` is narrowed to, judged by its keywords (none: any value). */
function inferTypes(schema: SchemaObject): string[] {
  const has = (...keys: string[]) => keys.some((k) => Object.hasOwn(schema, k))
  if (has('properties', 'additionalProperties', 'required', 'propertyNames', 'minProperties', 'maxProperties', 'patternProperties')) return ['object']
  if (has('items', 'prefixItems', 'minItems', 'maxItems', 'additionalItems', 'uniqueItems', 'contains')) return ['array']
  if (has('minLength', 'maxLength', 'format', 'pattern')) return ['string']
  if (has('minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf')) return ['number']
  return []
}

/**
 * Whether no value can match two branches of a oneOf: their types differ, or their const/enum values
 * differ, or (objects) a property required by both has disjoint const/enum values (a discriminator).
 */
function disjoint(branches: unknown[]): boolean {
  const facts = branches.map((b) => (isSchemaObject(b) ? b : null))
  if (facts.some((f) => f === null)) return false
  for (let i = 0; i < facts.length; i++) {
    for (let j = i + 1; j < facts.length; j++) if (!pairDisjoint(facts[i]!, facts[j]!)) return false
  }
  return true
}

function pairDisjoint(a: SchemaObject, b: SchemaObject): boolean {
  const values = (s: SchemaObject): unknown[] | null => (s.const !== undefined ? [s.const] : Array.isArray(s.enum) ? s.enum : null)
  const va = values(a)
  const vb = values(b)
  if (va && vb) return !va.some((x) => vb.some((y) => JSON.stringify(x) === JSON.stringify(y)))
  const types = (s: SchemaObject): string[] | null => {
    if (typeof s.type === 'string') return [s.type]
    if (Array.isArray(s.type)) return s.type as string[]
    return va && vb ? null : (values(s)?.map(jsonType) ?? null)
  }
  const ta = types(a)
  const tb = types(b)
  if (ta && tb) {
    const widen = (t: string[]) => (t.includes('number') ? [...t, 'integer'] : t)
    if (!widen(ta).some((t) => widen(tb).includes(t))) return true
  }
  if (isSchemaObject(a.properties) && isSchemaObject(b.properties)) {
    const required = (s: SchemaObject) => (Array.isArray(s.required) ? (s.required as string[]) : [])
    return required(a).some((name) => {
      const pa = (a.properties as SchemaObject)[name]
      const pb = (b.properties as SchemaObject)[name]
      return required(b).includes(name) && isSchemaObject(pa) && isSchemaObject(pb) && (values(pa) !== null && values(pb) !== null) && pairDisjoint(pa, pb)
    })
  }
  return false
}

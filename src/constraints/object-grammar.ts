import { literal } from './gbnf.js'
import { MAX_REPEAT, type GrammarContext, type Take } from './grammar-context.js'
import { isSchemaObject, satisfiesSiblings, type Schema } from './schema-document.js'
import { count, invalidSchema, pointerSegment, UnsupportedSchemaError, pastBudget } from './schema-error.js'

/**
 * An object schema's expression. With declared properties, only they are generated (extra properties are
 * always optional, so leaving them out stays valid), in declaration order, required ones always. Without
 * any, the object is a record: keys from `propertyNames`, values from `additionalProperties`.
 */
export function objectExpression(ctx: GrammarContext, take: Take, pointer: string): string {
  const properties = take('properties') ?? {}
  if (!isSchemaObject(properties)) throw invalidSchema('properties', `${pointer}/properties`, 'must be an object')
  const required = take('required') ?? []
  if (!Array.isArray(required) || required.some((r) => typeof r !== 'string')) throw invalidSchema('required', `${pointer}/required`, 'must be an array of strings')
  let additional = take('additionalProperties') as Schema | undefined
  const unevaluated = take('unevaluatedProperties')
  // Without other applicators here, unevaluatedProperties means what additionalProperties does.
  if (additional === undefined && unevaluated !== undefined) additional = unevaluated as Schema
  const names = take('propertyNames') as Schema | undefined
  const minProperties = count(take('minProperties'), 'minProperties', pointer)
  const maxProperties = count(take('maxProperties'), 'maxProperties', pointer)
  const patterns = take('patternProperties')
  if (isSchemaObject(patterns) && Object.keys(patterns).length > 0) {
    ctx.relax(new UnsupportedSchemaError('patternProperties', `${pointer}/patternProperties`, 'keys matched by patterns'))
  }

  // Required names without a schema take additionalProperties' (or any value).
  // Own keys only: a property named `constructor` or `__proto__` is a name like any other.
  const declared: Record<string, Schema> = Object.assign(Object.create(null) as Record<string, Schema>, properties)
  for (const name of required as string[]) {
    if (Object.hasOwn(declared, name)) continue
    if (additional === false) throw invalidSchema('required', `${pointer}/required`, `'${name}' is required but additionalProperties is false`)
    declared[name] = isSchemaObject(additional) ? additional : true
  }
  const requiredSet = new Set(required as string[])
  // Declared names that propertyNames or a false schema forbids are left out (and refused when required).
  for (const name of Object.keys(declared)) {
    const forbidden = declared[name] === false || names === false || (isSchemaObject(names) && !satisfiesSiblings(name, { type: 'string', ...names }))
    if (!forbidden) continue
    if (requiredSet.has(name)) throw invalidSchema('required', `${pointer}/required`, `'${name}' is required but its schema allows no value`)
    delete declared[name]
  }
  const keys = Object.keys(declared)
  if (keys.length === 0) return record(ctx, pointer, additional, names, minProperties, maxProperties)

  if (isSchemaObject(additional)) ctx.visit(additional, `${pointer}/additionalProperties`)
  const mandatory = new Set(requiredSet)
  if (maxProperties !== null && maxProperties < keys.length) {
    if (maxProperties < mandatory.size) throw invalidSchema('maxProperties', `${pointer}/maxProperties`, 'fewer than the required properties')
    ctx.relax(new UnsupportedSchemaError('maxProperties', `${pointer}/maxProperties`, 'a limit below the number of optional properties'))
  }
  if (minProperties !== null && minProperties > mandatory.size) {
    // At least minProperties: the first optional properties become mandatory.
    if (minProperties > keys.length) ctx.relax(new UnsupportedSchemaError('minProperties', `${pointer}/minProperties`, 'more than the declared properties'))
    for (const name of keys) if (mandatory.size < minProperties) mandatory.add(name)
  }
  const pairs = keys.map((name) => `${literal(name)} ws ":" ws ${ctx.visit(declared[name], `${pointer}/properties/${pointerSegment(name)}`)}`)
  // Rules <stem>-k-first / <stem>-k-after: what may follow before any property, or after one, from the k-th on.
  const stem = ctx.stem('obj')
  const rest = (k: number, after: boolean) => (k === keys.length ? '""' : `${stem}-${k}-${after ? 'after' : 'first'}`)
  for (let k = keys.length - 1; k >= 0; k--) {
    const present = `${pairs[k]} ${rest(k + 1, true)}`
    const optional = !mandatory.has(keys[k]!)
    ctx.define(`${stem}-${k}-first`, `${present}${optional ? ` | ${rest(k + 1, false)}` : ''}`)
    ctx.define(`${stem}-${k}-after`, `ws "," ws ${present}${optional ? ` | ${rest(k + 1, true)}` : ''}`)
  }
  return ctx.rule(`"{" ws ${rest(0, false)} ws "}"`)
}

function record(ctx: GrammarContext, pointer: string, additional: Schema | undefined, names: Schema | undefined, min: number | null, max: number | null): string {
  if (additional === false || names === false || max === 0) {
    if ((min ?? 0) > 0) throw invalidSchema('minProperties', `${pointer}/minProperties`, 'the object can have no properties')
    return ctx.rule('"{" ws "}"')
  }
  const key = names === undefined || names === true ? 'string' : ctx.visit({ type: 'string', ...(names as object) }, `${pointer}/propertyNames`)
  const value = additional === undefined || additional === true ? 'value' : ctx.visit(additional, `${pointer}/additionalProperties`)
  // A repeated key collapses when parsed, so only "at least one" can be promised.
  if ((min ?? 0) > 1) ctx.relax(new UnsupportedSchemaError('minProperties', `${pointer}/minProperties`, 'more than one property with free keys'))
  if ((max ?? 0) > MAX_REPEAT) throw pastBudget('maxProperties', `${pointer}/maxProperties`, `counts above ${MAX_REPEAT}`)
  const pair = `${key} ws ":" ws ${value}`
  const more = `( ws "," ws ${pair} )${max === null ? '*' : `{0,${max - 1}}`}`
  return ctx.rule((min ?? 0) >= 1 ? `"{" ws ${pair} ${more} ws "}"` : `"{" ws ( ${pair} ${more} )? ws "}"`)
}

import { literal } from './gbnf.js'
import { MAX_REPEAT, type GrammarContext, type Take } from './grammar-context.js'
import { isSchemaObject, satisfiesSiblings, type Draft, type Schema } from './schema-document.js'
import { count, invalidSchema, UnsupportedSchemaError, pastBudget } from './schema-error.js'

/**
 * An array schema's expression: tuples (2020-12's `prefixItems`, or `items` as an array with
 * `additionalItems`, the draft-04…2019-09 form, each read as its draft reads it) then further items, within minItems/maxItems; `uniqueItems` where the
 * grammar can promise it (at most one item, or items drawn from a finite set of values).
 */
export function arrayExpression(ctx: GrammarContext, take: Take, pointer: string, draft: Draft): string {
  const items = take('items') as Schema | Schema[] | undefined
  const prefixItems = take('prefixItems')
  const additionalItems = take('additionalItems') as Schema | undefined
  let prefix: Schema[] = []
  let rest: Schema = true
  let prefixPointer = `${pointer}/prefixItems`
  let restPointer = `${pointer}/items`
  if (Array.isArray(items)) {
    prefix = items
    prefixPointer = `${pointer}/items`
    rest = additionalItems ?? true
    restPointer = `${pointer}/additionalItems`
  } else if (draft !== '2020-12') {
    // Before 2020-12 prefixItems is no keyword: `items` (a schema) applies to every item.
    rest = items ?? true
  } else {
    if (prefixItems !== undefined && !Array.isArray(prefixItems)) throw invalidSchema('prefixItems', prefixPointer, 'must be an array of schemas')
    prefix = (prefixItems as Schema[] | undefined) ?? []
    rest = items ?? true
  }
  const min = count(take('minItems'), 'minItems', pointer) ?? 0
  const max = count(take('maxItems'), 'maxItems', pointer)
  if (max !== null && max < min) throw invalidSchema('maxItems', `${pointer}/maxItems`, 'maxItems is below minItems')
  if (min > MAX_REPEAT || (max ?? 0) > MAX_REPEAT) {
    const keyword = (max ?? 0) > MAX_REPEAT ? 'maxItems' : 'minItems'
    throw pastBudget(keyword, `${pointer}/${keyword}`, `counts above ${MAX_REPEAT}`)
  }
  if (rest === false && min > prefix.length) throw invalidSchema('minItems', `${pointer}/minItems`, 'more items than the tuple allows')
  if (max === 0) return ctx.rule('"[" ws "]"')
  const unique = take('uniqueItems')
  if (unique === true && (max === null || max > 1)) {
    const values = prefix.length === 0 ? finiteValues(rest) : null
    if (values !== null && min <= 1 && (max === null || max >= values.length)) return uniqueSubsequence(ctx, values, min)
    ctx.relax(new UnsupportedSchemaError('uniqueItems', `${pointer}/uniqueItems`, 'distinct items of an open set'))
  }
  const parts = prefix.map((schema, i) => ctx.visit(schema, `${prefixPointer}/${i}`))
  const item = rest === false ? null : ctx.visit(rest, restPointer)
  const limit = max ?? Infinity
  // Items from position j on, after the j-th: a comma and the next one, optional once `min` are written.
  const after = (j: number): string => {
    if (j >= limit) return ''
    if (j < parts.length) {
      const next = `ws "," ws ${parts[j]} ${after(j + 1)}`.trimEnd()
      return j >= min ? `( ${next} )?` : next
    }
    if (item === null) return ''
    const lo = Math.max(0, min - j)
    return `( ws "," ws ${item} )${max === null ? (lo === 0 ? '*' : `{${lo},}`) : `{${lo},${max - j}}`}`
  }
  const first = parts[0] ?? item
  if (first === null) return ctx.rule('"[" ws "]"')
  const body = `${first} ${after(1)}`.trimEnd()
  return ctx.rule(min === 0 ? `"[" ws ( ${body} )? ws "]"` : `"[" ws ${body} ws "]"`)
}

/** The values an item schema allows when they are few and known (enum, const, boolean), else null. */
function finiteValues(schema: Schema): unknown[] | null {
  if (!isSchemaObject(schema)) return null
  const own = Object.keys(schema).filter((k) => !['enum', 'const', 'type', 'title', 'description'].includes(k))
  if (own.length > 0) return null
  if (Object.hasOwn(schema, 'const')) return [schema.const]
  if (Array.isArray(schema.enum)) {
    // Checked against the type beside the list, not the list itself (that would be quadratic), as choice() does.
    const { enum: listed, ...siblings } = schema
    return dedupe((listed as unknown[]).filter((v) => satisfiesSiblings(v, siblings)))
  }
  if (schema.type === 'boolean') return [true, false]
  if (schema.type === 'null') return [null]
  return null
}

function dedupe(values: unknown[]): unknown[] {
  const seen = new Set<string>()
  return values.filter((v) => !seen.has(JSON.stringify(v)) && seen.add(JSON.stringify(v)))
}

/** Each value at most once, in the listed order: distinct items by construction. */
function uniqueSubsequence(ctx: GrammarContext, values: unknown[], min: number): string {
  const stem = ctx.stem('uniq')
  const n = values.length
  const next = (k: number) => (k === n ? '""' : `${stem}-${k}-after`)
  for (let k = n - 1; k >= 0; k--) {
    ctx.define(`${stem}-${k}-after`, `ws "," ws ${literal(values[k])} ${next(k + 1)} | ${next(k + 1)}`)
    ctx.define(`${stem}-${k}-first`, `${literal(values[k])} ${next(k + 1)}${k + 1 < n ? ` | ${stem}-${k + 1}-first` : ''}`)
  }
  return ctx.rule(min >= 1 ? `"[" ws ${stem}-0-first ws "]"` : `"[" ws ${stem}-0-first? ws "]"`)
}

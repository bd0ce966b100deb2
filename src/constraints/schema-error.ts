/**
 * A schema the converter cannot turn into a grammar. `pointer` is the JSON pointer of the keyword inside
 * the schema (e.g. `/properties/id/pattern`). `enforceable: false` marks what a grammar cannot express
 * (lookaround, `not`, …): with `strict: false` those keywords are relaxed instead of refused. An invalid
 * schema (`minLength: -1`, `type: "kaboom"`) is never relaxed.
 */
export class UnsupportedSchemaError extends Error {
  constructor(
    readonly keyword: string,
    readonly pointer: string,
    detail = '',
    readonly relaxable = true,
    readonly budget = false,
  ) {
    super(`JSON Schema keyword '${keyword}' at '#${pointer}' ${relaxable ? 'cannot be enforced' : budget ? 'is past the grammar budget' : 'is invalid'}${detail ? `: ${detail}` : ''}.`)
  }
}

/** A schema whose grammar would be too large to compile without stalling other requests, whatever `strict` says. */
export function pastBudget(keyword: string, pointer: string, detail: string): UnsupportedSchemaError {
  return new UnsupportedSchemaError(keyword, pointer, detail, false, true)
}

/** A schema that is wrong in itself, whatever `strict` says. */
export function invalidSchema(keyword: string, pointer: string, detail: string): UnsupportedSchemaError {
  return new UnsupportedSchemaError(keyword, pointer, detail, false)
}

/** A count keyword (minLength, maxItems, …): absent, or a non-negative integer. */
export function count(value: unknown, keyword: string, pointer: string): number | null {
  if (value === undefined) return null
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw invalidSchema(keyword, `${pointer}/${keyword}`, 'must be a non-negative integer')
  return value
}

/** A JSON pointer segment (RFC 6901). */
export function pointerSegment(key: string | number): string {
  return String(key).replace(/~/g, '~0').replace(/\//g, '~1')
}

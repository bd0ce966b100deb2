import { Ajv, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'

/**
 * The second check of structured output: the grammar should already make invalid JSON impossible, and
 * this catches what a grammar cannot express exactly (oneOf's "exactly one"), so a 200 never carries
 * output that does not validate. Compiled validators are kept per schema text.
 */
const ajv = addFormats.default(new Ajv({ allErrors: false, strict: false }))
const compiled = new Map<string, ValidateFunction>()
const MAX_CACHED = 64

/** null when `text` is JSON valid against `schema`, else why not. */
export function validateJson(text: string, schema: object): string | null {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    return `not JSON: ${(error as Error).message}`
  }
  const key = JSON.stringify(schema)
  let validate = compiled.get(key)
  if (!validate) {
    validate = ajv.compile(schema)
    if (compiled.size >= MAX_CACHED) compiled.delete(compiled.keys().next().value!)
    compiled.set(key, validate)
  }
  return validate(value) ? null : ajv.errorsText(validate.errors)
}

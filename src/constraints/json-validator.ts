import { createRequire } from 'node:module'
import { Ajv, type AnySchemaObject, type ValidateFunction } from 'ajv'
import { Ajv2019 } from 'ajv/dist/2019.js'
import { Ajv2020 } from 'ajv/dist/2020.js'
import AjvDraft04 from 'ajv-draft-04'
import addFormats from 'ajv-formats'
import { schemaDraft, type Draft } from './schema-document.js'

/**
 * The second check of structured output, and the first check of a schema: every draft a client may
 * declare in `$schema` (04, 06, 07, 2019-09, 2020-12) gets a validator that knows its meta-schema, so a
 * schema is compiled (and its errors reported as a 400) before anything is generated, and the output
 * is validated the way the client's own validator would. Compiled validators are kept per schema text.
 */

const require = createRequire(import.meta.url)
// unicodeRegExp: false accepts patterns written for Python's `re` (Pydantic), such as `\-` outside a class.
const OPTIONS = { allErrors: false, strict: false, logger: false, validateFormats: true, unicodeRegExp: false } as const

function withFormats<T extends Ajv>(ajv: T): T {
  addFormats.default(ajv)
  return ajv
}

const validators: Record<Draft, () => Ajv> = {
  'draft-04': lazy(() => withFormats(new AjvDraft04.default(OPTIONS) as unknown as Ajv)),
  'draft-06': lazy(() => {
    const ajv = withFormats(new Ajv(OPTIONS))
    ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json') as AnySchemaObject)
    return ajv
  }),
  'draft-07': lazy(() => withFormats(new Ajv(OPTIONS))),
  '2019-09': lazy(() => withFormats(new Ajv2019(OPTIONS) as unknown as Ajv)),
  '2020-12': lazy(() => withFormats(new Ajv2020(OPTIONS) as unknown as Ajv)),
}

function lazy<T>(make: () => T): () => T {
  let value: T | undefined
  return () => (value ??= make())
}

const compiled = new Map<string, ValidateFunction>()
const MAX_CACHED = 256

/** The compiled validator of a schema; throws Ajv's error when the schema is invalid for its draft. */
export function compileValidator(schema: object): ValidateFunction {
  const key = JSON.stringify(schema)
  let validate = compiled.get(key)
  if (validate) {
    compiled.delete(key)
    compiled.set(key, validate)
    return validate
  }
  const draft = schemaDraft(schema)
  // A `$schema` URI the validator does not know (a draft variant, `http` vs `https`) is read as its draft.
  // Its `$id` would be registered for good: two requests reusing one id would collide.
  const { $schema: _declared, $id: _id, id: _legacyId, ...rest } = schema as Record<string, unknown>
  const ajv = validators[draft]()
  try {
    validate = ajv.compile(rest)
  } finally {
    // Ajv keeps every schema it compiled; the cache here is the bounded one.
    ajv.removeSchema(rest)
  }
  if (compiled.size >= MAX_CACHED) compiled.delete(compiled.keys().next().value!)
  compiled.set(key, validate)
  return validate
}

/** null when `text` is JSON valid against `schema`, else why not. */
export function validateJson(text: string, schema: object): string | null {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    return `not JSON: ${(error as Error).message}`
  }
  const validate = compileValidator(schema)
  if (validate(value)) return null
  return (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}`).join('; ')
}

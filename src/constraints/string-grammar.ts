import { PatternError, patternGrammar } from './regex-grammar.js'
import { count, invalidSchema, UnsupportedSchemaError, pastBudget } from './schema-error.js'

/**
 * Grammars for string `format`s: approximations that only produce valid values (every value they allow
 * passes ajv-formats and the patterns zod 4 emits beside the format), not every valid value.
 */
const FORMAT_RULES = `
fmt-date ::= [0-9]{4} "-" ( ( "01" | "03" | "05" | "07" | "08" | "10" | "12" ) "-" fmt-day31 | ( "04" | "06" | "09" | "11" ) "-" fmt-day30 | "02" "-" fmt-day28 )
fmt-day28 ::= "0" [1-9] | "1" [0-9] | "2" [0-8]
fmt-day30 ::= fmt-day28 | "29" | "30"
fmt-day31 ::= fmt-day30 | "31"
fmt-time ::= ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]{1,6} )? "Z"
fmt-hex4 ::= [0-9a-f]{4}
fmt-uuid ::= fmt-hex4 fmt-hex4 "-" fmt-hex4 "-" [1-8] [0-9a-f]{3} "-" [89ab] [0-9a-f]{3} "-" fmt-hex4 fmt-hex4 fmt-hex4
fmt-label ::= [a-z0-9] ( [a-z0-9-]{0,20} [a-z0-9] )?
fmt-hostname ::= fmt-label ( "." fmt-label ){0,4}
fmt-domain ::= fmt-label ( "." fmt-label ){0,3} "." [a-z]{2,6}
fmt-email ::= [a-z0-9_+-]{1,30} ( "." [a-z0-9_+-]{1,30} ){0,2} "@" fmt-domain
fmt-uri ::= "https://" fmt-domain ( "/" [a-zA-Z0-9._~-]{1,30} ){0,5}
fmt-octet ::= "25" [0-5] | "2" [0-4] [0-9] | "1" [0-9] [0-9] | [1-9] [0-9] | [0-9]
fmt-ipv4 ::= fmt-octet "." fmt-octet "." fmt-octet "." fmt-octet
fmt-h16 ::= [0-9a-f]{1,4}
fmt-ipv6 ::= fmt-h16 ( ":" fmt-h16 ){7}
fmt-duration ::= "P" [1-9] [0-9]{0,2} "D" | "PT" [1-9] [0-9]{0,2} [HMS]
`

/** Each format's expression, with the shortest and longest value it produces (to honour length limits beside it). */
const FORMATS: Record<string, [expression: string, min: number, max: number]> = {
  date: ['fmt-date', 10, 10],
  time: ['fmt-time', 9, 16],
  'date-time': ['fmt-date "T" fmt-time', 20, 27],
  duration: ['fmt-duration', 3, 6],
  uuid: ['fmt-uuid', 36, 36],
  email: ['fmt-email', 6, 191],
  'idn-email': ['fmt-email', 6, 191],
  uri: ['fmt-uri', 12, 261],
  url: ['fmt-uri', 12, 261],
  'uri-reference': ['fmt-uri', 12, 261],
  iri: ['fmt-uri', 12, 261],
  'iri-reference': ['fmt-uri', 12, 261],
  ipv4: ['fmt-ipv4', 7, 15],
  ipv6: ['fmt-ipv6', 15, 39],
  hostname: ['fmt-hostname', 1, 114],
  'idn-hostname': ['fmt-hostname', 1, 114],
}

/** The format rules a grammar needs (once, shared by all its schemas) when one of its strings has a format. */
export function formatRules(): string {
  return FORMAT_RULES
}

export interface StringKeywords {
  pattern: unknown
  format: unknown
  minLength: unknown
  maxLength: unknown
}

/** Longest string length enforced (in named chunks of 1000: llama.cpp expands `x{m,n}` into n rules, at most 2000). */
export const MAX_LENGTH = 1_000_000
const CHUNK = 1000

/**
 * The expression for a string schema's JSON text. `relax(error)` either throws the error (strict) or
 * records the keyword as dropped, after which the rest of the schema is still enforced.
 */
export function stringExpression(
  k: StringKeywords,
  pointer: string,
  relax: (e: UnsupportedSchemaError) => void,
  rule: (body: string) => string,
): { expression: string; usesFormats: boolean } {
  const min = count(k.minLength, 'minLength', pointer)
  const max = count(k.maxLength, 'maxLength', pointer)
  if (max !== null && min !== null && max < min) throw invalidSchema('maxLength', `${pointer}/maxLength`, 'maxLength is below minLength')
  let content: string | null = null
  let usesFormats = false
  if (typeof k.format === 'string' && Object.hasOwn(FORMATS, k.format)) {
    // A known format's grammar comes first: it is written to also satisfy the patterns clients send beside
    // it (zod's uuid, email, hostname, date-time), which the final validation still checks.
    const [expression, shortest, longest] = FORMATS[k.format]!
    content = expression
    usesFormats = true
    // Limits the format's values already keep (Pydantic's HttpUrl: 1…2083) need nothing more.
    if ((min ?? 0) <= shortest && (max ?? Infinity) >= longest) return { expression: `"\\"" ${content} "\\""`, usesFormats }
  } else if (k.pattern !== undefined) {
    if (typeof k.pattern !== 'string') throw invalidSchema('pattern', `${pointer}/pattern`, 'must be a string')
    const problem = regexProblem(k.pattern)
    if (problem) throw invalidSchema('pattern', `${pointer}/pattern`, `not a regular expression: ${problem}`)
    try {
      content = patternGrammar(k.pattern)
    } catch (error) {
      if (!(error instanceof PatternError)) throw error
      relax(new UnsupportedSchemaError('pattern', `${pointer}/pattern`, error.message))
    }
  }
  // Unknown formats are annotations for the validators too (Ajv ignores them): nothing to enforce.
  // `^[…]+$` with length limits (zod's `.regex().min().max()`): one character per class, so counts are lengths.
  const repeated = content === null ? null : /^(\[(?:[^\]\\]|\\.)*\])([+*])$/.exec(content)
  if (repeated && (min !== null || max !== null)) {
    const least = Math.max(min ?? 0, repeated[2] === '+' ? 1 : 0)
    if (max !== null && max < least) throw invalidSchema('maxLength', `${pointer}/maxLength`, 'no string of that length matches the pattern')
    return { expression: `"\\"" ${repeated[1]}{${least},${max ?? ''}} "\\""`, usesFormats }
  }
  if (content !== null) {
    if (min !== null && min > 0) relax(new UnsupportedSchemaError('minLength', `${pointer}/minLength`, 'length limits together with a pattern or format'))
    if (max !== null) relax(new UnsupportedSchemaError('maxLength', `${pointer}/maxLength`, 'length limits together with a pattern or format'))
    return { expression: `"\\"" ${content} "\\""`, usesFormats }
  }
  if ((min ?? 0) > MAX_LENGTH || (max ?? 0) > MAX_LENGTH) {
    const keyword = (max ?? 0) > MAX_LENGTH ? 'maxLength' : 'minLength'
    throw pastBudget(keyword, `${pointer}/${keyword}`, `lengths above ${MAX_LENGTH}`)
  }
  if ((min ?? 0) === 0 && max === null) return { expression: 'string', usesFormats }
  return { expression: `"\\"" ${lengths(min ?? 0, max, rule)} "\\""`, usesFormats }
}

/** Between min and max characters: exactly min, then up to max − min more, long runs in named 1000-character chunks. */
function lengths(min: number, max: number | null, rule: (body: string) => string): string {
  const parts: string[] = []
  if (min >= CHUNK) parts.push(`${rule(`char{${CHUNK}}`)}{${Math.floor(min / CHUNK)}}`)
  if (min % CHUNK > 0) parts.push(`char{${min % CHUNK}}`)
  if (max === null) parts.push('char*')
  else {
    const extra = max - min
    if (extra >= CHUNK) parts.push(`${rule(`char{0,${CHUNK}}`)}{0,${Math.floor(extra / CHUNK)}}`)
    if (extra % CHUNK > 0) parts.push(`char{0,${extra % CHUNK}}`)
  }
  return parts.length === 0 ? '""' : parts.join(' ')
}

/**
 * Why a pattern is no regular expression, or null. Unicode mode first; then, as the validator is set up
 * (Ajv's `unicodeRegExp: false`), the plain mode that accepts the identity escapes Python's `re` writes (`\-`).
 */
function regexProblem(pattern: string): string | null {
  for (const flags of ['u', '']) {
    try {
      new RegExp(pattern, flags)
      return null
    } catch (error) {
      if (flags === '') return (error as Error).message
    }
  }
  return null
}

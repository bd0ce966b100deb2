/**
 * GBNF building blocks shared by every schema grammar. Whitespace is bounded as llama.cpp's converter
 * bounds it (one space, or one or two newlines and at most 20 indentation characters): a random or
 * confused model cannot spend its token budget on blanks between two tokens of JSON.
 */
export const PRIMITIVES = `
ws ::= | " " | "\\n"{1,2} [ \\t]{0,20}
value ::= object | array | string | number | boolean | null
object ::= "{" ws ( string ws ":" ws value ( ws "," ws string ws ":" ws value )* )? ws "}"
array ::= "[" ws ( value ( ws "," ws value )* )? ws "]"
string ::= "\\"" char* "\\""
char ::= [^"\\\\\\x7F\\x00-\\x1F] | "\\\\" ( ["\\\\/bfnrt] | "u" [0-9a-fA-F]{4} )
number ::= "-"? ( "0" | [1-9] [0-9]{0,15} ) ( "." [0-9]{1,16} )? ( [eE] [-+]? [0-9]{1,3} )?
integer ::= "-"? ( "0" | [1-9] [0-9]{0,15} )
boolean ::= "true" | "false"
null ::= "null"
`

/** A JSON value as a GBNF string literal (its JSON text, quoted for GBNF). */
export function literal(value: unknown): string {
  return gbnfText(JSON.stringify(value))
}

/** A GBNF literal for raw text (`""` for empty text). */
export function gbnfText(text: string): string {
  return `"${[...text].map(escapeLiteralChar).join('')}"`
}

function escapeLiteralChar(c: string): string {
  if (c === '"' || c === '\\') return `\\${c}`
  const code = c.codePointAt(0)!
  if (code >= 0x20 && code < 0x7f) return c
  if (code >= 0xa0 && code !== 0x2028 && code !== 0x2029) return c
  return escapeCode(code)
}

/** A character inside a GBNF class `[...]`. */
export function classChar(code: number): string {
  const c = String.fromCodePoint(code)
  // llama.cpp's parser knows `\[ \] \- \\` but not `\^`, which would make the whole grammar fail to parse.
  if (c === ']' || c === '[' || c === '-' || c === '\\') return `\\${c}`
  if (c === '^') return escapeCode(code)
  if (code >= 0x20 && code < 0x7f) return c
  return escapeCode(code)
}

function escapeCode(code: number): string {
  if (code <= 0xff) return `\\x${code.toString(16).padStart(2, '0')}`
  if (code <= 0xffff) return `\\u${code.toString(16).padStart(4, '0')}`
  return `\\U${code.toString(16).padStart(8, '0')}`
}

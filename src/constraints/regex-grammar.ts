import { classChar, gbnfText } from './gbnf.js'
import { MAX_REPEAT } from './grammar-context.js'

/**
 * A JSON Schema `pattern` (ECMA-262 regular expression) → a GBNF expression for the *JSON-encoded*
 * content of a string that matches it, as llama.cpp's converter translates patterns: literals, classes,
 * `.`, groups, alternation and quantifiers. A pattern not anchored at both ends may have anything around
 * its match. Where the grammar is narrower than the regex (`.` and negated classes exclude `"`, `\` and
 * control characters; `\s` is a space), every string it allows still matches: narrowing is always valid.
 * Constructs a grammar cannot express (backreferences, lookaround, word boundaries, Unicode properties,
 * inline flags) throw a PatternError naming them.
 */
export class PatternError extends Error {}

/** Any single JSON string character (as encoded): what `.` and negated classes draw from. */
const SAFE_EXCLUDED = '"\\\\\\x7F\\x00-\\x1F'

type Range = [number, number]

export function patternGrammar(pattern: string): string {
  const parser = new PatternParser(pattern)
  const expression = parser.alternatives(true)
  if (parser.pos < pattern.length) throw new PatternError(`unbalanced ')' at offset ${parser.pos}`)
  return expression
}

class PatternParser {
  pos = 0
  constructor(private readonly src: string) {}

  /** Alternatives up to ')' or the end; at top level each may be anchored by ^ / $. */
  alternatives(top: boolean): string {
    const branches: string[] = []
    for (;;) {
      branches.push(this.sequence(top))
      if (this.src[this.pos] !== '|') break
      this.pos++
    }
    return branches.length === 1 ? branches[0]! : `( ${branches.join(' | ')} )`
  }

  private sequence(top: boolean): string {
    const items: string[] = []
    let anchoredStart = false
    let anchoredEnd = false
    if (top && this.src[this.pos] === '^') {
      anchoredStart = true
      this.pos++
    }
    while (this.pos < this.src.length && this.src[this.pos] !== '|' && this.src[this.pos] !== ')') {
      if (this.src[this.pos] === '$') {
        this.pos++
        if (top && (this.pos === this.src.length || this.src[this.pos] === '|')) {
          anchoredEnd = true
          break
        }
        throw new PatternError(`'$' inside the pattern (offset ${this.pos - 1})`)
      }
      if (this.src[this.pos] === '^') throw new PatternError(`'^' inside the pattern (offset ${this.pos})`)
      const atom = this.atom()
      items.push(this.quantified(atom))
    }
    if (top && this.src[this.pos] === ')') throw new PatternError(`unbalanced ')' at offset ${this.pos}`)
    const anything = `[^${SAFE_EXCLUDED}]{0,20}`
    if (top && !anchoredStart) items.unshift(anything)
    if (top && !anchoredEnd) items.push(anything)
    return items.length === 0 ? '""' : items.length === 1 ? items[0]! : `( ${items.join(' ')} )`
  }

  private quantified(atom: string): string {
    const c = this.src[this.pos]
    let quantifier = ''
    if (c === '*' || c === '+' || c === '?') {
      quantifier = c
      this.pos++
    } else if (c === '{') {
      const match = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.pos))
      if (match) {
        const min = Number(match[1])
        const max = match[2] === undefined ? min : match[3] === '' ? null : Number(match[3])
        if (max !== null && max < min) throw new PatternError(`quantifier ${match[0]} has max below min`)
        if (min > MAX_REPEAT || (max ?? 0) > MAX_REPEAT) throw new PatternError(`repetition ${match[0]} is above ${MAX_REPEAT}`)
        quantifier = max === null ? `{${min},}` : min === max ? `{${min}}` : `{${min},${max}}`
        this.pos += match[0].length
      }
    }
    if (!quantifier) return atom
    // llama.cpp expands nested counted repetitions into their product of rules and refuses past 2000.
    const count = Number(/\d+(?=\}$)/.exec(quantifier)?.[0] ?? /^\{(\d+)/.exec(quantifier)?.[1] ?? 1)
    const inner = [...atom.matchAll(/\{(\d+)(?:,(\d*))?\}/g)].reduce((n, m) => n + Number(m[2] || m[1]), 0)
    if (count * (inner + 1) > MAX_REPEAT && inner > 0) throw new PatternError(`nested repetitions of ${count} × ${inner} are past the grammar budget`)
    // Lazy and possessive suffixes change which match is found, not whether one exists.
    if (this.src[this.pos] === '?') this.pos++
    else if (this.src[this.pos] === '+') throw new PatternError('possessive quantifiers')
    return `${atom}${quantifier}`
  }

  private atom(): string {
    const c = this.src[this.pos]!
    if (c === '(') return this.group()
    if (c === '[') return this.charClass()
    if (c === '.') {
      this.pos++
      return `[^${SAFE_EXCLUDED}]`
    }
    if (c === '\\') return this.escape()
    if (c === '*' || c === '+' || c === '?') throw new PatternError(`nothing to repeat at offset ${this.pos}`)
    if (c === '{' && /^\{\d+(,\d*)?\}/.test(this.src.slice(this.pos))) throw new PatternError(`nothing to repeat at offset ${this.pos}`)
    const cp = this.src.codePointAt(this.pos)!
    this.pos += cp > 0xffff ? 2 : 1
    return charLiteral(cp)
  }

  private group(): string {
    this.pos++
    if (this.src.startsWith('?', this.pos)) {
      const rest = this.src.slice(this.pos)
      if (rest.startsWith('?:')) this.pos += 2
      else if (/^\?<[A-Za-z_]\w*>/.test(rest)) this.pos = this.src.indexOf('>', this.pos) + 1
      else if (/^\?(=|!|<=|<!)/.test(rest)) throw new PatternError('lookaround assertions ((?=…), (?!…), (?<=…), (?<!…))')
      else throw new PatternError(`group syntax '(${rest.slice(0, 3)}'`)
    }
    const inner = this.alternatives(false)
    if (this.src[this.pos] !== ')') throw new PatternError("unbalanced '('")
    this.pos++
    return `( ${inner} )`
  }

  private escape(): string {
    const c = this.src[this.pos + 1]
    if (c === undefined) throw new PatternError('a trailing backslash')
    const shorthand = SHORTHANDS[c]
    if (shorthand) {
      this.pos += 2
      return shorthand.outside
    }
    if (/[1-9]/.test(c) || c === 'k') throw new PatternError('backreferences')
    if (c === 'b' || c === 'B') throw new PatternError('word boundaries (\\b, \\B)')
    if (c === 'p' || c === 'P') throw new PatternError('Unicode property escapes (\\p{…})')
    return charLiteral(this.escapedCode())
  }

  /** The code point of a single-character escape at pos (`\n`, `\x41`, `\u0041`, `\.`), consumed. */
  private escapedCode(): number {
    const c = this.src[this.pos + 1]!
    const simple: Record<string, number> = { n: 10, r: 13, t: 9, f: 12, v: 11, '0': 0 }
    if (c in simple) {
      this.pos += 2
      return simple[c]!
    }
    const hex = c === 'x' ? /^[0-9a-fA-F]{2}/.exec(this.src.slice(this.pos + 2)) : c === 'u' ? /^([0-9a-fA-F]{4}|\{[0-9a-fA-F]{1,6}\})/.exec(this.src.slice(this.pos + 2)) : null
    if (hex) {
      this.pos += 2 + hex[0].length
      return parseInt(hex[0].replace(/[{}]/g, ''), 16)
    }
    if (/[A-Za-z]/.test(c)) throw new PatternError(`the escape '\\${c}'`)
    const cp = this.src.codePointAt(this.pos + 1)!
    this.pos += cp > 0xffff ? 3 : 2
    return cp
  }

  private charClass(): string {
    this.pos++
    const negated = this.src[this.pos] === '^'
    if (negated) this.pos++
    const ranges: Range[] = []
    let first = true
    while (this.pos < this.src.length && (this.src[this.pos] !== ']' || first)) {
      first = false
      const start = this.classMember(ranges)
      if (start === null) continue
      if (this.src[this.pos] === '-' && this.src[this.pos + 1] !== ']' && this.pos + 1 < this.src.length) {
        this.pos++
        const end = this.classMember(ranges)
        if (end === null) throw new PatternError('a class range ending in a shorthand')
        if (end < start) throw new PatternError('a class range out of order')
        ranges.push([start, end])
      } else {
        ranges.push([start, start])
      }
    }
    if (this.src[this.pos] !== ']') throw new PatternError("unbalanced '['")
    this.pos++
    return negated ? negatedClass(ranges) : positiveClass(ranges)
  }

  /** One class member: its code point, or null after adding a shorthand's ranges. */
  private classMember(ranges: Range[]): number | null {
    const c = this.src[this.pos]!
    if (c !== '\\') {
      const cp = this.src.codePointAt(this.pos)!
      this.pos += cp > 0xffff ? 2 : 1
      return cp
    }
    const e = this.src[this.pos + 1]
    const shorthand = e === undefined ? undefined : SHORTHANDS[e]
    if (shorthand) {
      this.pos += 2
      ranges.push(...shorthand.inClass)
      return null
    }
    if (e === 'b') {
      this.pos += 2
      return 8
    }
    if (e === 'p' || e === 'P') throw new PatternError('Unicode property escapes (\\p{…})')
    return this.escapedCode()
  }
}

/** \d \w \s and their negations: outside a class, and (a subset of) their members inside one. */
const PRINTABLE: Range[] = [[0x21, 0x7e]]
const SHORTHANDS: Record<string, { outside: string; inClass: Range[] }> = {
  d: { outside: '[0-9]', inClass: [[0x30, 0x39]] },
  w: { outside: '[a-zA-Z0-9_]', inClass: [[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a], [0x5f, 0x5f]] },
  s: { outside: '" "', inClass: [[0x20, 0x20]] },
  D: { outside: `[^0-9${SAFE_EXCLUDED}]`, inClass: [[0x20, 0x2f], [0x3a, 0x7e]] },
  W: { outside: `[^a-zA-Z0-9_${SAFE_EXCLUDED}]`, inClass: [[0x20, 0x2f], [0x3a, 0x40], [0x5b, 0x5e], [0x60, 0x60], [0x7b, 0x7e]] },
  S: { outside: `[^ ${SAFE_EXCLUDED}]`, inClass: PRINTABLE },
}

/** Characters JSON must escape inside a string, with the escape the grammar writes for them. */
const ESCAPED: Record<number, string> = { 0x22: '\\"', 0x5c: '\\\\', 0x0a: '\\n', 0x09: '\\t', 0x0d: '\\r', 0x08: '\\b', 0x0c: '\\f' }

function charLiteral(cp: number): string {
  if (cp in ESCAPED) return gbnfText(ESCAPED[cp]!)
  if (cp < 0x20 || cp === 0x7f) return gbnfText(`\\u${cp.toString(16).padStart(4, '0')}`)
  return gbnfText(String.fromCodePoint(cp))
}

/** A class of plain characters, plus the escaped forms of the members JSON must escape. */
function positiveClass(ranges: Range[]): string {
  const plain: Range[] = []
  const escaped: string[] = []
  for (const [from, to] of ranges) {
    for (const special of [0x22, 0x5c, 0x0a, 0x09, 0x0d]) if (special >= from && special <= to) escaped.push(charLiteral(special))
    for (const [a, b] of subtract([from, to], [[0x00, 0x1f], [0x22, 0x22], [0x5c, 0x5c], [0x7f, 0x7f]])) plain.push([a, b])
  }
  const parts = [...new Set(escaped)]
  if (plain.length > 0) parts.unshift(`[${plain.map(([a, b]) => (a === b ? classChar(a) : `${classChar(a)}-${classChar(b)}`)).join('')}]`)
  if (parts.length === 0) throw new PatternError('a class with only control characters')
  return parts.length === 1 ? parts[0]! : `( ${parts.join(' | ')} )`
}

function negatedClass(ranges: Range[]): string {
  return `[^${ranges.map(([a, b]) => (a === b ? classChar(a) : `${classChar(a)}-${classChar(b)}`)).join('')}${SAFE_EXCLUDED}]`
}

function subtract(range: Range, holes: Range[]): Range[] {
  let pieces: Range[] = [range]
  for (const [ha, hb] of holes) {
    pieces = pieces.flatMap(([a, b]): Range[] => {
      if (hb < a || ha > b) return [[a, b]]
      const out: Range[] = []
      if (a < ha) out.push([a, ha - 1])
      if (b > hb) out.push([hb + 1, b])
      return out
    })
  }
  return pieces
}

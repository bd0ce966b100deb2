/**
 * GBNF for the decimal numbers between two bounds, of any size, inclusive or exclusive, integers or
 * decimals. The grammar walks the digits of the bounds once (a digit-by-digit comparison written as
 * rules), so its size grows with the number of digits, never with 2^digits: a ±(2^53−1) integer range
 * is a few hundred bytes. Exponents are never produced; integer parts have no leading zeros and the
 * output is never "-0".
 */

/** A bound as decimal text (`"-12.5"`, `"9007199254740991"`), with whether it is itself excluded. */
export interface DecimalBound {
  value: string
  exclusive: boolean
}

/** Longest integer part generated when a range is open above. */
const MAX_INT_DIGITS = 16
/** Longest fraction generated beyond a bound's own digits. */
const MAX_FRACTION_DIGITS = 16

interface Magnitude {
  int: string
  frac: string
  exclusive: boolean
}

/**
 * The expression for numbers in [lo, hi] (null = unbounded on that side), or null when no number fits.
 * `fraction: false` restricts it to integers (then bounds must be integer text, already made inclusive).
 */
export function decimalRange(lo: DecimalBound | null, hi: DecimalBound | null, fraction: boolean): string | null {
  const low = lo === null ? null : parseDecimal(lo.value)
  const high = hi === null ? null : parseDecimal(hi.value)
  const zero: Magnitude = { int: '0', frac: '', exclusive: false }
  const parts: string[] = []
  // Negatives: magnitudes in (|hi| or 0, |lo|].
  if (low === null || low.negative) {
    const lower = high?.negative ? { ...high.magnitude, exclusive: hi!.exclusive } : { ...zero, exclusive: true }
    const upper = low === null ? null : { ...low.magnitude, exclusive: lo!.exclusive }
    const negative = magnitudeRange(lower, upper, fraction)
    if (negative !== null) parts.push(`"-" ${negative}`)
  }
  // Zero and positives: [lo or 0, hi].
  if (high === null || !high.negative) {
    const lower = low === null || low.negative ? zero : { ...low.magnitude, exclusive: lo!.exclusive }
    const upper = high === null ? null : { ...high.magnitude, exclusive: hi!.exclusive }
    const positive = magnitudeRange(lower, upper, fraction)
    if (positive !== null) parts.push(positive)
  }
  return parts.length === 0 ? null : group(parts)
}

/** Decimal text of a finite JS number, without exponent (1e21 → "1000000000000000000000"). */
export function decimalText(x: number): string {
  const text = String(x)
  const match = /^(-?)(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(text)
  if (!match) return text === '-0' ? '0' : text
  const [, sign, whole, fracPart = '', exp] = match
  const digits = whole! + fracPart
  const point = whole!.length + Number(exp)
  const padded = point <= 0 ? '0'.repeat(1 - point) + digits : digits.padEnd(point, '0')
  const at = Math.max(point, 1)
  const intPart = padded.slice(0, at).replace(/^0+(?=\d)/, '')
  const fracText = padded.slice(at).replace(/0+$/, '')
  return `${sign}${intPart}${fracText ? `.${fracText}` : ''}`
}

function parseDecimal(text: string): { negative: boolean; magnitude: Magnitude } {
  const match = /^(-?)(\d+)(?:\.(\d*))?$/.exec(text)
  if (!match) throw new Error(`not a decimal: ${text}`)
  const int = match[2]!.replace(/^0+(?=\d)/, '')
  const frac = (match[3] ?? '').replace(/0+$/, '')
  const isZero = int === '0' && frac === ''
  return { negative: match[1] === '-' && !isZero, magnitude: { int, frac, exclusive: false } }
}

/** -1, 0, 1 as a < b, a = b, a > b (non-negative magnitudes). */
function compare(a: Magnitude, b: Magnitude): number {
  if (a.int.length !== b.int.length) return a.int.length < b.int.length ? -1 : 1
  if (a.int !== b.int) return a.int < b.int ? -1 : 1
  const n = Math.max(a.frac.length, b.frac.length)
  const fa = a.frac.padEnd(n, '0')
  const fb = b.frac.padEnd(n, '0')
  return fa === fb ? 0 : fa < fb ? -1 : 1
}

function magnitudeRange(lower: Magnitude, upper: Magnitude | null, fraction: boolean): string | null {
  if (upper !== null) {
    const order = compare(lower, upper)
    if (order > 0 || (order === 0 && (lower.exclusive || upper.exclusive))) return null
  }
  const parts: string[] = []
  const lastBand = upper === null ? lower.int.length : upper.int.length
  for (let n = lower.int.length; n <= lastBand; n++) {
    const bandLower = n === lower.int.length ? lower : { int: n === 1 ? '0' : `1${'0'.repeat(n - 1)}`, frac: '', exclusive: false }
    const bandUpper = upper !== null && n === upper.int.length ? upper : null
    const band = new Band(n, fraction)
    const expression = bandUpper === null ? band.atLeast(bandLower, 0) : band.between(bandLower, bandUpper, 0)
    if (expression !== null) parts.push(expression)
  }
  // Open above: every longer integer part.
  if (upper === null && lower.int.length < MAX_INT_DIGITS) {
    parts.push(`[1-9] [0-9]{${lower.int.length},${MAX_INT_DIGITS - 1}}${fraction ? ` ( "." [0-9]{1,${MAX_FRACTION_DIGITS}} )?` : ''}`)
  }
  return parts.length === 0 ? null : group(parts)
}

/**
 * The numbers whose integer part has exactly `n` digits. Positions 0…n−1 are integer digits, n… the
 * fraction (a "." comes before position n). Each method describes the rest of the number from
 * position i, given that the digits before i equal the bound's.
 */
class Band {
  constructor(
    private readonly n: number,
    private readonly fraction: boolean,
  ) {}

  between(lo: Magnitude, hi: Magnitude, i: number): string | null {
    if (this.restZero(lo, i)) return lo.exclusive ? this.aboveZeroAtMost(hi, i) : this.atMost(hi, i)
    const a = this.digit(lo, i)
    const b = this.digit(hi, i)
    if (a === b) {
      const rest = this.between(lo, hi, i + 1)
      return rest === null ? null : this.seq(this.at(i, `"${a}"`), rest)
    }
    const parts: string[] = []
    const up = this.atLeast(lo, i + 1)
    if (up !== null) parts.push(this.seq(this.at(i, `"${a}"`), up))
    if (b - a > 1) parts.push(this.seq(this.at(i, digitClass(a + 1, b - 1)), this.any(i + 1)))
    const down = this.atMost(hi, i + 1)
    if (down !== null) parts.push(this.seq(this.at(i, `"${b}"`), down))
    return parts.length === 0 ? null : group(parts)
  }

  atLeast(lo: Magnitude, i: number): string | null {
    if (this.restZero(lo, i)) return lo.exclusive ? this.aboveZero(i) : this.any(i)
    if (i >= this.n && !this.fraction) return null
    const c = this.digit(lo, i)
    const parts: string[] = []
    if (c < 9) parts.push(this.seq(this.at(i, digitClass(c + 1, 9)), this.any(i + 1)))
    const rest = this.atLeast(lo, i + 1)
    if (rest !== null) parts.push(this.seq(this.at(i, `"${c}"`), rest))
    return parts.length === 0 ? null : group(parts)
  }

  atMost(hi: Magnitude, i: number): string | null {
    if (this.restZero(hi, i)) return hi.exclusive ? null : this.zeros(i)
    const c = this.digit(hi, i)
    const parts: string[] = []
    // In the fraction the number may end here: a shorter fraction is smaller.
    if (i >= this.n) parts.push('""')
    if (c > 0) parts.push(this.seq(this.at(i, digitClass(i === 0 && this.n > 1 ? 1 : 0, c - 1)), this.any(i + 1)))
    const rest = this.atMost(hi, i + 1)
    if (rest !== null) parts.push(this.seq(this.at(i, `"${c}"`), rest))
    return parts.length === 0 ? null : group(parts)
  }

  /** Above zero and at most the bound (whose rest is not zero). */
  private aboveZeroAtMost(hi: Magnitude, i: number): string | null {
    const c = this.digit(hi, i)
    const parts: string[] = []
    const zeroThen = c === 0 ? this.aboveZeroAtMost(hi, i + 1) : this.aboveZero(i + 1)
    if (zeroThen !== null && !(i === 0 && this.n > 1)) parts.push(this.seq(this.at(i, '"0"'), zeroThen))
    if (c > 1) parts.push(this.seq(this.at(i, digitClass(1, c - 1)), this.any(i + 1)))
    if (c > 0) {
      const rest = this.atMost(hi, i + 1)
      if (rest !== null) parts.push(this.seq(this.at(i, `"${c}"`), rest))
    }
    return parts.length === 0 ? null : group(parts)
  }

  /** Any rest that is not all zeros. */
  private aboveZero(i: number): string | null {
    if (i < this.n) {
      const parts = [this.seq(this.at(i, '[1-9]'), this.any(i + 1))]
      const rest = this.aboveZero(i + 1)
      if (rest !== null && !(i === 0 && this.n > 1)) parts.push(this.seq(this.at(i, '"0"'), rest))
      return group(parts)
    }
    if (!this.fraction) return null
    const body = `"0"{0,${MAX_FRACTION_DIGITS - 1}} [1-9] [0-9]{0,${MAX_FRACTION_DIGITS - 1}}`
    return i === this.n ? `"." ${body}` : body
  }

  /** Any digits from position i (then the optional fraction). */
  private any(i: number): string {
    const fraction = `( "." [0-9]{1,${MAX_FRACTION_DIGITS}} )?`
    if (i < this.n) return `[0-9]{${this.n - i}}${this.fraction ? ` ${fraction}` : ''}`
    if (!this.fraction) return '""'
    return i === this.n ? fraction : `[0-9]{0,${MAX_FRACTION_DIGITS}}`
  }

  /** Only zeros from position i. */
  private zeros(i: number): string {
    const fraction = this.fraction ? `( "." "0"{1,${MAX_FRACTION_DIGITS}} )?` : ''
    if (i < this.n) return `"${'0'.repeat(this.n - i)}"${fraction ? ` ${fraction}` : ''}`
    if (!this.fraction) return '""'
    return i === this.n ? fraction : `"0"{0,${MAX_FRACTION_DIGITS}}`
  }

  /** The atom for the digit at position i (the first fraction digit brings the "."). */
  private at(i: number, atom: string): string {
    return i === this.n ? `"." ${atom}` : atom
  }

  private digit(x: Magnitude, i: number): number {
    return Number(i < this.n ? x.int[i] : (x.frac[i - this.n] ?? '0'))
  }

  private restZero(x: Magnitude, i: number): boolean {
    if (i >= this.n) return i - this.n >= x.frac.length
    return /^0*$/.test(x.int.slice(i)) && x.frac === ''
  }

  private seq(head: string, rest: string): string {
    return rest === '""' ? head : `${head} ${rest}`
  }
}

function digitClass(from: number, to: number): string {
  return from === to ? `"${from}"` : `[${from}-${to}]`
}

function group(parts: string[]): string {
  return parts.length === 1 ? parts[0]! : `( ${parts.join(' | ')} )`
}

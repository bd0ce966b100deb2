import { describe, expect, it } from 'vitest'
import { decimalRange, decimalText } from '../src/constraints/decimal-range.js'

/** Range grammars use only literals, classes, {m,n}, ? and groups, so they read directly as a regex. */
function asRegExp(gbnf: string): RegExp {
  const source = gbnf
    .replace(/"([^"]*)"/g, (_, text: string) => `(?:${text.replace(/[.\-]/g, (c) => `\\${c}`)})`)
    .replace(/\( /g, '(?:')
    .replace(/\s+/g, '')
  return new RegExp(`^(?:${source})$`)
}

const bound = (value: number | null, exclusive = false) => (value === null ? null : { value: decimalText(value), exclusive })

describe('decimalRange (integers)', () => {
  it.each([
    [0, 0], [0, 9], [18, 99], [5, 123], [100, 2500], [-40, 7], [-999, -10], [-5, 0], [7, 7], [99, 1001], [0, null], [3, null], [null, -5], [null, 30],
  ] as Array<[number | null, number | null]>)('matches exactly the integers in [%s, %s]', (lo, hi) => {
    const re = asRegExp(decimalRange(bound(lo), bound(hi), false)!)
    const from = (lo ?? hi! - 300) - 150
    const to = (hi ?? lo! + 300) + 150
    for (let n = from; n <= to; n++) expect(re.test(String(n)), String(n)).toBe((lo === null || n >= lo) && (hi === null || n <= hi))
    expect(re.test('007')).toBe(false)
    expect(re.test('-0')).toBe(false)
  })

  it('stays linear in the number of digits, up to the safe-integer bounds and beyond', () => {
    const safe = decimalRange(bound(-9007199254740991), bound(9007199254740991), false)!
    expect(safe.length).toBeLessThan(3000)
    const re = asRegExp(safe)
    for (const n of ['9007199254740991', '-9007199254740991', '0', '123', '9007199254740990', '-4503599627370496']) expect(re.test(n), n).toBe(true)
    for (const n of ['9007199254740992', '-9007199254740992', '10000000000000000', '-0']) expect(re.test(n), n).toBe(false)
    const huge = decimalRange({ value: '-99999999999999999999999999999', exclusive: false }, { value: '99999999999999999999999999999', exclusive: false }, false)!
    expect(huge.length).toBeLessThan(4000)
  })
})

describe('decimalRange (numbers)', () => {
  const cases: Array<[number | null, boolean, number | null, boolean]> = [
    [0, true, null, false], [0, false, 1, false], [0.5, false, 2.25, true], [-1.5, true, 1.5, false], [-10, false, -0.25, false], [1.05, false, 1.5, false],
    [100, false, 1000, true], [null, false, 0, true], [-3, false, null, false], [0.001, true, 0.01, true],
  ]
  it.each(cases)('matches exactly the decimals in %s (exclusive %s) … %s (exclusive %s)', (lo, loEx, hi, hiEx) => {
    const re = asRegExp(decimalRange(bound(lo, loEx), bound(hi, hiEx), true)!)
    const samples = new Set<string>()
    const base = [lo ?? -20, hi ?? 20]
    for (const b of base) for (const d of [0, 0.001, 0.01, 0.1, 0.25, 0.5, 1, 1.5, 3, 10, 99.99]) for (const s of [-1, 1]) samples.add(decimalText(Number((b + s * d).toFixed(6))))
    for (const x of ['0', '0.0', '1.50', '2.250', '1000', '999.999', '-0.25', '-0.2500', '0.0010', '0.00100001']) samples.add(x)
    for (const text of samples) {
      const x = Number(text)
      const inRange = (lo === null || (loEx ? x > lo : x >= lo)) && (hi === null || (hiEx ? x < hi : x <= hi))
      if (/^-?(0|[1-9]\d*)(\.\d+)?$/.test(text) && text !== '-0' && !text.startsWith('-0.0')) expect(re.test(text), text).toBe(inRange)
    }
  })

  it('writes any finite number without an exponent', () => {
    expect(decimalText(1e21)).toBe('1000000000000000000000')
    expect(decimalText(1.5e-7)).toBe('0.00000015')
    expect(decimalText(-2.5e-3)).toBe('-0.0025')
    expect(decimalText(-0)).toBe('0')
  })
})

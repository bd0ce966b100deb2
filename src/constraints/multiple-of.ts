import type { GrammarContext } from './grammar-context.js'

/** Largest divisor enforced: the automaton has divisor × MAX_DIGITS rules. */
export const MAX_DIVISOR = 100
/** Integers up to 15 digits: within any bounds that contain ±(10^15 − 1), such as zod's safe-integer ones. */
export const MAX_DIGITS = 15

/**
 * The integers divisible by `divisor` (up to 15 digits, no leading zeros, never "-0"): a remainder automaton
 * read left to right (r → (10r + d) mod m) written as rules `<stem>-r-k`, k = digits still allowed; a
 * number may end only at remainder 0.
 */
export function multipleOfExpression(ctx: GrammarContext, divisor: number): string {
  const stem = ctx.stem('mul')
  const name = (r: number, left: number) => `${stem}-${r}-${left}`
  // Only states from which a multiple can still be finished get a rule.
  const live = new Set<string>()
  for (let left = 0; left < MAX_DIGITS; left++) {
    for (let r = 0; r < divisor; r++) {
      const parts = r === 0 ? ['""'] : []
      if (left > 0) {
        for (const [digits, to] of digitsByTarget(r, divisor, 0)) if (live.has(name(to, left - 1))) parts.push(`${digits} ${name(to, left - 1)}`)
      }
      if (parts.length === 0) continue
      live.add(name(r, left))
      ctx.define(name(r, left), parts.join(' | '))
    }
  }
  const first = digitsByTarget(0, divisor, 1).filter(([, to]) => live.has(name(to, MAX_DIGITS - 1))).map(([digits, to]) => `${digits} ${name(to, MAX_DIGITS - 1)}`)
  return ctx.rule(`"0" | "-"? ( ${first.join(' | ')} )`)
}

/** The digits (from `lowest`) read at remainder r, grouped by the remainder they lead to. */
function digitsByTarget(r: number, divisor: number, lowest: number): Array<[string, number]> {
  const groups = new Map<number, number[]>()
  for (let d = lowest; d <= 9; d++) {
    const to = (10 * r + d) % divisor
    groups.set(to, [...(groups.get(to) ?? []), d])
  }
  return [...groups].map(([to, digits]) => [digits.length === 1 ? `"${digits[0]}"` : `[${digits.join('')}]`, to])
}

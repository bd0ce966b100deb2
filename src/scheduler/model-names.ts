/**
 * The names requests use for models: ids and aliases, matched whole. An alias holding `*` is a pattern
 * (`*` = any run of characters, everything else literal), so one entry such as `claude-*` catches every
 * versioned name a client sends (Claude Code asks for `claude-sonnet-4-5-20250929`, `claude-3-5-haiku-…`).
 * An exact name wins over a pattern; among patterns, the first configured wins.
 */
export class ModelNames<T> {
  private readonly exact = new Map<string, T>()
  private readonly patterns: Array<{ pattern: RegExp; target: T }> = []

  set(name: string, target: T): void {
    if (isPattern(name)) this.patterns.push({ pattern: patternRegExp(name), target })
    else this.exact.set(name, target)
  }

  get(name: string): T | undefined {
    return this.exact.get(name) ?? this.patterns.find((p) => p.pattern.test(name))?.target
  }
}

export function isPattern(name: string): boolean {
  return name.includes('*')
}

function patternRegExp(name: string): RegExp {
  const literal = name.split('*').map((part) => part.replace(/[\\^$.|?+()[\]{}]/g, '\\$&'))
  return new RegExp(`^${literal.join('.*')}$`, 's')
}

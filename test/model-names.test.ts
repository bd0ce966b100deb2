import { describe, expect, it } from 'vitest'
import { ModelNames } from '../src/scheduler/model-names.js'

describe('ModelNames', () => {
  const names = new ModelNames<string>()
  names.set('qwen', 'qwen')
  names.set('claude-3-5-haiku-latest', 'small')
  names.set('claude-*', 'qwen')
  names.set('claude-*-haiku-*', 'never') // a later pattern loses to an earlier one
  names.set('gpt-4o.mini', 'dots')

  it('matches ids and aliases whole', () => {
    expect(names.get('qwen')).toBe('qwen')
    expect(names.get('qwe')).toBeUndefined()
    expect(names.get('qwen2')).toBeUndefined()
  })

  it("'*' matches any run of characters, everything else is literal", () => {
    expect(names.get('claude-sonnet-4-5-20250929')).toBe('qwen')
    expect(names.get('claude-')).toBe('qwen')
    expect(names.get('xclaude-opus')).toBeUndefined()
    expect(names.get('gpt-4oXmini')).toBeUndefined() // '.' is no wildcard
    expect(names.get('gpt-4o.mini')).toBe('dots')
  })

  it('an exact name wins over a pattern; among patterns the first set wins', () => {
    expect(names.get('claude-3-5-haiku-latest')).toBe('small')
    expect(names.get('claude-3-5-haiku-20241022')).toBe('qwen')
  })
})

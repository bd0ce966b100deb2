import { describe, expect, it } from 'vitest'
import { nestingExceeds } from '../src/http/plugins/limits.js'

describe('nestingExceeds', () => {
  it('counts brackets outside strings only, escapes included', () => {
    expect(nestingExceeds('[[[1]]]', 3)).toBe(false)
    expect(nestingExceeds('[[[[1]]]]', 3)).toBe(true)
    expect(nestingExceeds(JSON.stringify({ a: '[[[[[[', b: '\\"[[[[', c: 'x\\\\' }), 1)).toBe(false)
    expect(nestingExceeds(`{"a":"\\\\"${'['.repeat(5)}`, 3)).toBe(true)
    expect(nestingExceeds(`{"a":"\\"${'['.repeat(5)}"}`, 3)).toBe(false)
    expect(nestingExceeds('"never closed [[[[', 1)).toBe(false)
  })

  it('finds no nesting in a multi-megabyte string full of quotes and backslashes', () => {
    const body = JSON.stringify({ prompt: 'hello "world" \\ '.repeat(500_000) })
    expect(nestingExceeds(body, 128)).toBe(false)
  })
})

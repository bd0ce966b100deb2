import { describe, expect, it } from 'vitest'
import { StopMatcher } from '../src/engine/stop-matcher.js'

interface Run {
  emits: string[]
  stop: string | undefined
  /** How many push() calls reported a stop (the caller stops pushing after the first). */
  stopReports: number
  /** Index of the chunk whose push reported the stop, or -1. */
  stopChunk: number
  flushed: string
}

/** Feeds chunks the way the engine does: push until a stop is reported, then flush. */
function feed(stops: readonly string[], chunks: readonly string[], check?: (fed: string, emitted: string) => void): Run {
  const matcher = new StopMatcher(stops)
  const emits: string[] = []
  let stop: string | undefined
  let stopReports = 0
  let stopChunk = -1
  let fed = ''
  for (const [i, chunk] of chunks.entries()) {
    fed += chunk
    const result = matcher.push(chunk)
    emits.push(result.emit)
    if (result.stop !== undefined) {
      stop = result.stop
      stopReports++
      stopChunk = i
      break
    }
    check?.(fed, emits.join(''))
  }
  return { emits, stop, stopReports, stopChunk, flushed: matcher.flush() }
}

/** Every way to cut `text` into 2 and 3 pieces, plus one unit at a time. */
function splits(units: readonly string[]): string[][] {
  const out: string[][] = []
  const join = (a: number, b: number) => units.slice(a, b).join('')
  for (let i = 0; i <= units.length; i++) {
    out.push([join(0, i), join(i, units.length)])
    for (let j = i; j <= units.length; j++) out.push([join(0, i), join(i, j), join(j, units.length)])
  }
  out.push([...units])
  return out
}

/** The index of the chunk in which the stop string first becomes complete. */
function completingChunk(chunks: readonly string[], end: number): number {
  let length = 0
  for (const [i, chunk] of chunks.entries()) {
    length += chunk.length
    if (length >= end) return i
  }
  return -1
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/**
 * The core property: whatever the chunking, the emitted text is exactly the text before the stop, the
 * stop is reported once, by the chunk that completes it, and nothing held could not still become a stop.
 */
function expectStopsCleanly(stops: readonly string[], text: string, stop: string, units: readonly string[] = [...text]) {
  const stopIndex = text.indexOf(stop)
  expect(stopIndex).toBeGreaterThanOrEqual(0)
  const before = text.slice(0, stopIndex)
  const longest = Math.max(...stops.map((s) => s.length))
  let cases = 0
  for (const chunks of splits(units)) {
    const run = feed(stops, chunks, (fed, emitted) => {
      const where = `after ${JSON.stringify(fed)} of ${JSON.stringify(chunks)}`
      // Emitted text is always a prefix of the answer: nothing of the stop string leaks, ever.
      if (!before.startsWith(emitted)) expect.fail(`emitted ${JSON.stringify(emitted)} ${where}`)
      // What is held back could still become a stop string (a proper prefix of one), so it is short.
      const held = fed.slice(emitted.length)
      if (held.length > longest - 1) expect.fail(`held ${JSON.stringify(held)} ${where}`)
      if (held && !stops.some((s) => s.length > held.length && s.startsWith(held))) {
        expect.fail(`held ${JSON.stringify(held)}, which can no longer become a stop, ${where}`)
      }
    })
    expect(run.emits.join(''), JSON.stringify(chunks)).toBe(before)
    expect(run.stop).toBe(stop)
    expect(run.stopReports).toBe(1)
    expect(run.stopChunk).toBe(completingChunk(chunks, stopIndex + stop.length))
    expect(run.flushed).toBe('')
    cases++
  }
  expect(cases).toBeGreaterThan(units.length)
}

describe('StopMatcher: one multi-character stop, every split point', () => {
  it('finds "<|end|>" however the text is cut', () => {
    expectStopsCleanly(['<|end|>'], 'Hello <|end|> world', '<|end|>')
  })

  it('finds "STOP" however the text is cut', () => {
    expectStopsCleanly(['STOP'], 'abcSTOPdef', 'STOP')
  })

  it('finds the stop after a false start that shares its prefix', () => {
    expectStopsCleanly(['<|end|>'], 'a <|en b <|<|end|> c', '<|end|>')
    expectStopsCleanly(['STOP'], 'xSTSTOPy', 'STOP')
    expectStopsCleanly(['aab'], 'aaaab!', 'aab')
  })

  it('finds a stop at the very start and at the very end of the text', () => {
    expectStopsCleanly(['<|end|>'], '<|end|>tail', '<|end|>')
    expectStopsCleanly(['<|end|>'], 'head<|end|>', '<|end|>')
  })

  it('one character at a time: emits each safe character as soon as it is safe', () => {
    const matcher = new StopMatcher(['<|end|>'])
    const out = [...'ab<|x<|end|>'].map((c) => matcher.push(c))
    expect(out.map((r) => r.emit)).toEqual(['a', 'b', '', '', '<|x', '', '', '', '', '', '', ''])
    expect(out.filter((r) => r.stop !== undefined)).toEqual([{ emit: '', stop: '<|end|>' }])
    expect(out.findIndex((r) => r.stop)).toBe(11)
  })
})

describe('StopMatcher: held prefixes', () => {
  it('releases a held prefix in order when it does not complete', () => {
    const matcher = new StopMatcher(['<|end|>'])
    expect(matcher.push('Once <|en')).toEqual({ emit: 'Once ' })
    expect(matcher.push('d of story')).toEqual({ emit: '<|end of story' })
    expect(matcher.flush()).toBe('')
  })

  it('keeps holding while the tail still could grow into the stop, then releases it all', () => {
    const matcher = new StopMatcher(['<|end|>'])
    expect(matcher.push('<')).toEqual({ emit: '' })
    expect(matcher.push('|')).toEqual({ emit: '' })
    expect(matcher.push('e')).toEqual({ emit: '' })
    expect(matcher.push('!')).toEqual({ emit: '<|e!' })
  })

  it('releases only the part of the held text that can no longer start a stop', () => {
    const matcher = new StopMatcher(['<|end|>'])
    expect(matcher.push('<|e')).toEqual({ emit: '' })
    // "<|e<" – the first three can no longer be a stop, the last '<' still can.
    expect(matcher.push('<')).toEqual({ emit: '<|e' })
    expect(matcher.push('|end|>after')).toEqual({ emit: '', stop: '<|end|>' })
  })

  it('discards everything after the stop, including text in the same chunk', () => {
    const matcher = new StopMatcher(['STOP'])
    expect(matcher.push('keep STOP drop STO')).toEqual({ emit: 'keep ', stop: 'STOP' })
    expect(matcher.flush()).toBe('')
  })

  it('flush() returns the held text once, at the end', () => {
    const matcher = new StopMatcher(['<|end|>'])
    expect(matcher.push('answer <|en')).toEqual({ emit: 'answer ' })
    expect(matcher.flush()).toBe('<|en')
    expect(matcher.flush()).toBe('')
  })

  it('flush() without held text is empty', () => {
    const matcher = new StopMatcher(['STOP'])
    expect(matcher.push('plain text')).toEqual({ emit: 'plain text' })
    expect(matcher.flush()).toBe('')
  })

  it('with no stops everything passes straight through', () => {
    const matcher = new StopMatcher([])
    for (const piece of ['<|', 'end', '|>', 'S', 'TOP', '', '😀']) {
      expect(matcher.push(piece)).toEqual({ emit: piece })
    }
    expect(matcher.flush()).toBe('')
  })
})

describe('StopMatcher: several stops', () => {
  it('the earliest occurrence wins, whatever the order of the list', () => {
    for (const stops of [['END', 'x'], ['x', 'END']]) {
      expect(new StopMatcher(stops).push('ab x cd END')).toEqual({ emit: 'ab ', stop: 'x' })
      expect(new StopMatcher(stops).push('ab END x')).toEqual({ emit: 'ab ', stop: 'END' })
    }
  })

  it('when two start at the same index, the longer wins, whatever the order of the list', () => {
    for (const stops of [['ST', 'STOP'], ['STOP', 'ST']]) {
      expect(new StopMatcher(stops).push('go STOP now')).toEqual({ emit: 'go ', stop: 'STOP' })
    }
  })

  it('the earliest of several stops wins when the text arrives one character at a time', () => {
    const stops = ['</s>', '<|end|>', '\n\nUser:']
    expectStopsCleanly(stops, 'reply\n\nUse it</s> then <|end|>', '</s>')
    expectStopsCleanly(stops, 'reply <|end|> then </s>', '<|end|>')
    expectStopsCleanly(stops, 'reply <|en </ \n\nUser: x', '\n\nUser:')
  })

  it('holds the tail for the stop with the longest matching prefix', () => {
    const matcher = new StopMatcher(['ab', 'xyzw'])
    // 'xyz' is a prefix of 'xyzw' (3 chars), longer than any prefix of 'ab'.
    expect(matcher.push('--xyz')).toEqual({ emit: '--' })
    expect(matcher.push('a')).toEqual({ emit: 'xyz' })
    expect(matcher.push('b')).toEqual({ emit: '', stop: 'ab' })
  })
})

describe('StopMatcher: unicode', () => {
  it('emoji and CJK around an ASCII stop, split at every code point', () => {
    expectStopsCleanly(['<|end|>'], '日本語😀<|end|>後😀', '<|end|>')
  })

  it('stops that are or contain emoji and CJK, split at every code point', () => {
    expectStopsCleanly(['🛑'], 'go 😀 🛑 no', '🛑')
    expectStopsCleanly(['<|😀|>'], 'a<|😁|>b<|😀|>c', '<|😀|>')
    expectStopsCleanly(['終わり'], '物語の終わ…本当の終わり。', '終わり')
    expectStopsCleanly(['ａ👍🏽ｂ'], 'xａ👍🏽ｃａ👍🏽ｂy', 'ａ👍🏽ｂ')
  })

  it('split at every UTF-16 code unit (halves of surrogate pairs) still emits exactly the text before the stop', () => {
    const text = 'x😁y😀!z'
    expectStopsCleanly(['😀!'], text, '😀!', text.split(''))
  })

  it('never emits a lone surrogate when chunks are whole code points', () => {
    // '😁' and '😀' share their high surrogate: a prefix match on it must not split the pair.
    const text = '😁😁😀😀😁'
    for (const chunks of splits([...text])) {
      const run = feed(['😀😁'], chunks)
      for (const emit of run.emits) expect(LONE_SURROGATE.test(emit), JSON.stringify(emit)).toBe(false)
      expect(run.emits.join('')).toBe('😁😁😀')
      expect(run.stop).toBe('😀😁')
    }
  })

  it('releases a held emoji prefix when the stop does not complete', () => {
    const matcher = new StopMatcher(['😀😀'])
    expect(matcher.push('日😀')).toEqual({ emit: '日' })
    expect(matcher.push('本')).toEqual({ emit: '😀本' })
    expect(matcher.push('😀')).toEqual({ emit: '' })
    expect(matcher.flush()).toBe('😀')
  })
})

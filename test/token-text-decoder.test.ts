import { describe, expect, it } from 'vitest'
import { TokenTextDecoder, type Detokenize } from '../src/engine/token-text-decoder.js'

/**
 * A byte-level vocabulary: token id b (0..255) is the single byte b, and a few multi-byte tokens exist
 * too. detokenize decodes the concatenated bytes non-fatally, as llama.cpp does with byte-fallback
 * tokens, so an incomplete UTF-8 sequence comes out as U+FFFD. With context it does what node-llama-cpp's
 * `detokenize(tokens, special, lastTokens)` does: decode context and tokens together, then cut the
 * context's own text off the front. So a byte that finishes the context's incomplete character is
 * swallowed into that character's U+FFFD and decodes to ''.
 */
const MULTI: Record<number, Uint8Array> = {
  1000: new TextEncoder().encode('hello'),
  1001: Uint8Array.of(0x61, 0xe6), // 'a' + the first byte of 日
  1002: Uint8Array.of(0x97, 0xa5, 0x62), // the rest of 日 + 'b'
  1003: Uint8Array.of(0xf0, 0x9f), // first half of 😀
  1004: Uint8Array.of(0x98, 0x80), // second half of 😀
}

function bytesOf(token: number): Uint8Array {
  if (token >= 0 && token < 256) return Uint8Array.of(token)
  const bytes = MULTI[token]
  if (!bytes) throw new Error(`unknown token ${token}`)
  return bytes
}

interface Call {
  tokens: number[]
  context: number[]
}

function fakeDetokenizer(): { detokenize: Detokenize; calls: Call[] } {
  const calls: Call[] = []
  const detokenize: Detokenize = (tokens, context) => {
    calls.push({ tokens: [...tokens], context: [...context] })
    const decode = (ids: readonly number[]) => new TextDecoder('utf-8').decode(Uint8Array.from(ids.flatMap((id) => [...bytesOf(id)])))
    const before = decode(context)
    if (before === '') return decode(tokens)
    const all = decode([...context, ...tokens])
    return all.startsWith(before) ? all.slice(before.length) : all
  }
  return { detokenize, calls }
}

/** One byte token per UTF-8 byte of `text`. */
const byteTokens = (text: string): number[] => [...new TextEncoder().encode(text)]

function decodeAll(tokens: readonly number[], context: readonly number[] = []) {
  const { detokenize, calls } = fakeDetokenizer()
  const decoder = new TokenTextDecoder(detokenize, context)
  const pushed = tokens.map((t) => decoder.push(t))
  const flushed = decoder.flush()
  return { pushed, flushed, text: pushed.join('') + flushed, calls }
}

describe('TokenTextDecoder: multi-byte characters split into byte tokens', () => {
  const samples = ['é', '日', '😀', 'café', '日本語', 'a😀b', 'é日😀', '😀😀', 'x👍🏽y', 'Ünïcödé 漢字 🎉🎊 ok']

  for (const sample of samples) {
    it(`${JSON.stringify(sample)}: push never yields U+FFFD and the output equals the input`, () => {
      const { pushed, flushed, text } = decodeAll(byteTokens(sample))
      for (const piece of pushed) expect(piece).not.toContain('\uFFFD')
      expect(flushed).toBe('')
      expect(text).toBe(sample)
    })
  }

  it('emits each character exactly when its last byte arrives', () => {
    // é = C3 A9, 日 = E6 97 A5, 😀 = F0 9F 98 80
    const { pushed } = decodeAll(byteTokens('é日😀!'))
    expect(pushed).toEqual(['', 'é', '', '', '日', '', '', '', '😀', '!'])
  })

  it('ASCII tokens are emitted immediately, one for one', () => {
    const { pushed } = decodeAll(byteTokens('abc'))
    expect(pushed).toEqual(['a', 'b', 'c'])
  })

  it('handles multi-byte tokens that end or start in the middle of a character', () => {
    const { pushed, text } = decodeAll([1001, 1002, 1000, 1003, 1004])
    expect(pushed).toEqual(['', 'a日b', 'hello', '', '😀'])
    expect(text).toBe('a日bhello😀')
  })

  it('a character split over a multi-byte token and single bytes', () => {
    const { pushed, text } = decodeAll([1003, 0x98, 0x80, 0x21])
    expect(pushed).toEqual(['', '', '😀', '!'])
    expect(text).toBe('😀!')
  })

  it('a genuine U+FFFD in the text is not lost', () => {
    const sample = 'a\uFFFDb'
    const { text } = decodeAll(byteTokens(sample))
    expect(text).toBe(sample)
  })
})

describe('TokenTextDecoder: invalid bytes', () => {
  it('a lone 0xFF byte followed by text is emitted as U+FFFD, not held', () => {
    const { pushed, flushed, text } = decodeAll([0xff, 0x61, 0x62])
    expect(text).toBe('\uFFFDab')
    expect(pushed.slice(0, 2).join('')).toBe('\uFFFDa')
    expect(pushed[2]).toBe('b')
    expect(flushed).toBe('')
  })

  it('a run of invalid bytes is emitted after at most 4 tokens even if nothing valid follows', () => {
    const { detokenize } = fakeDetokenizer()
    const decoder = new TokenTextDecoder(detokenize)
    const pushed = [0xff, 0xfe, 0xff, 0xfe, 0xff, 0xfe, 0xff, 0xfe].map((t) => decoder.push(t))
    // An invalid byte is released as soon as the next token shows it cannot start a character:
    // at most the newest one is ever pending, and nothing is lost.
    for (let i = 1; i < pushed.length; i++) expect(pushed.slice(0, i + 1).join('').length).toBeGreaterThanOrEqual(i)
    expect(pushed.join('') + decoder.flush()).toBe('\uFFFD'.repeat(8))
  })

  it('a lone continuation byte is emitted as U+FFFD and the text after it is intact', () => {
    const { text } = decodeAll([0x80, ...byteTokens('日x')])
    expect(text).toBe('\uFFFD日x')
  })

  it('an invalid byte before a 3-byte character does not corrupt the character', () => {
    const { text } = decodeAll([0xff, ...byteTokens('日')])
    expect(text).toBe('\uFFFD日')
  })

  it('an invalid byte before a 4-byte character does not corrupt the character', () => {
    const { text } = decodeAll([0xff, ...byteTokens('😀')])
    expect(text).toBe('\uFFFD😀')
  })

  it('two invalid bytes before a 3-byte character do not corrupt the character', () => {
    const { text } = decodeAll([0xff, 0xff, ...byteTokens('日')])
    expect(text).toBe('\uFFFD\uFFFD日')
  })
})

describe('TokenTextDecoder: flush', () => {
  it('flush() releases pending bytes of an unfinished character as U+FFFD', () => {
    const { detokenize } = fakeDetokenizer()
    const decoder = new TokenTextDecoder(detokenize)
    expect(decoder.push(0x61)).toBe('a')
    expect(decoder.push(0xf0)).toBe('')
    expect(decoder.push(0x9f)).toBe('')
    expect(decoder.flush()).toBe('\uFFFD')
    expect(decoder.flush()).toBe('')
  })

  it('flush() with nothing pending is empty and does not call the detokenizer', () => {
    const { detokenize, calls } = fakeDetokenizer()
    const decoder = new TokenTextDecoder(detokenize)
    expect(decoder.flush()).toBe('')
    decoder.push(0x61)
    const before = calls.length
    expect(decoder.flush()).toBe('')
    expect(calls.length).toBe(before)
  })

  it('decoding can go on after a flush', () => {
    const { detokenize } = fakeDetokenizer()
    const decoder = new TokenTextDecoder(detokenize)
    decoder.push(0xe6)
    expect(decoder.flush()).toBe('\uFFFD')
    expect(byteTokens('é').map((t) => decoder.push(t)).join('')).toBe('é')
  })
})

describe('TokenTextDecoder: left context for the detokenizer', () => {
  it('passes the last 4 context tokens from the constructor to the first call', () => {
    const { calls } = decodeAll([0x61], [1, 2, 3, 4, 5, 6])
    expect(calls[0]).toEqual({ tokens: [0x61], context: [3, 4, 5, 6] })
  })

  it('context is the last 4 finalised tokens; pending tokens are never part of it', () => {
    const { calls } = decodeAll([0x61, 0x62, 0xc3, 0xa9, 0x63], [9])
    expect(calls).toEqual([
      { tokens: [0x61], context: [9] },
      { tokens: [0x62], context: [9, 0x61] },
      { tokens: [0xc3], context: [9, 0x61, 0x62] },
      { tokens: [0xc3, 0xa9], context: [9, 0x61, 0x62] },
      { tokens: [0x63], context: [0x61, 0x62, 0xc3, 0xa9] },
    ])
  })

  it('does not keep a reference to the caller\'s context array', () => {
    const context = [1, 2]
    const { detokenize, calls } = fakeDetokenizer()
    const decoder = new TokenTextDecoder(detokenize, context)
    context.push(99)
    decoder.push(0x61)
    expect(calls[0]?.context).toEqual([1, 2])
  })
})

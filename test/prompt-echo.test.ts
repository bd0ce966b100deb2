import { describe, expect, it } from 'vitest'
import { echoPrompt } from '../src/engine/prompt-echo.js'
import type { PromptTokenLogprob } from '../src/generation/events.js'

const piece = (token: string, logprob: number | null = -1): PromptTokenLogprob => ({ token, bytes: [...Buffer.from(token)], logprob, top: logprob === null ? null : [] })

describe('echoPrompt', () => {
  it("drops SentencePiece's added space so the tokens join to the text as sent; the first token has no logprob", () => {
    const { text, logprobs } = echoPrompt([piece(' Once', -2), piece(' upon'), piece(' a'), piece(' time')], 'Once upon a time', true)
    expect(text).toBe('Once upon a time')
    expect(logprobs.map((p) => p.token)).toEqual(['Once', ' upon', ' a', ' time'])
    expect(logprobs[0]).toEqual({ token: 'Once', bytes: [...Buffer.from('Once')], logprob: null, top: null })
    expect(logprobs[1]!.logprob).toBe(-1)
  })

  it('keeps a leading space the client sent, and a token-id prompt decodes as Hugging Face decode does', () => {
    expect(echoPrompt([piece('  Once')], ' Once', true).logprobs[0]!.token).toBe(' Once')
    expect(echoPrompt([piece(' Once'), piece(' upon')], null, true).text).toBe('Once upon')
    // Byte-level BPE adds no space: a token-id prompt's leading space is real text.
    expect(echoPrompt([piece(' Once')], null, false).text).toBe(' Once')
  })

  it('keeps the text as sent when the tokens cannot spell it (normalized characters)', () => {
    const { text, logprobs } = echoPrompt([piece(' Cafe')], 'Café', true)
    expect(text).toBe('Café')
    expect(logprobs.map((p) => p.token)).toEqual(['Cafe'])
  })
})

import { describe, expect, it } from 'vitest'
import { ReasoningSplitter, type ReasoningPiece } from '../src/engine/reasoning-splitter.js'

/** Feeds `parts` one push each, then finishes; returns the joined reasoning and content and the piece order. */
function run(parts: string[], startsInside: boolean) {
  const splitter = new ReasoningSplitter(startsInside)
  const pieces: ReasoningPiece[] = []
  for (const part of parts) pieces.push(...splitter.push(part))
  pieces.push(...splitter.finish())
  const join = (type: ReasoningPiece['type']) => pieces.filter((p) => p.type === type).map((p) => p.text).join('')
  const firstContent = pieces.findIndex((p) => p.type === 'content')
  const lastReasoning = pieces.map((p) => p.type).lastIndexOf('reasoning')
  return { reasoning: join('reasoning'), content: join('content'), ordered: firstContent < 0 || lastReasoning < firstContent, pieces }
}

/** Every way to cut `text` in two, and into single characters. */
function splits(text: string): string[][] {
  const out: string[][] = [[text], [...text]]
  for (let i = 1; i < text.length; i++) out.push([text.slice(0, i), text.slice(i)])
  for (let i = 1; i < text.length; i++) for (let j = i + 1; j < text.length; j += 3) out.push([text.slice(0, i), text.slice(i, j), text.slice(j)])
  return out
}

const CASES: Array<{ name: string; text: string; startsInside: boolean; reasoning: string; content: string }> = [
  { name: 'opening marker in the output', text: '<think>\nweigh it up\n</think>\n\nThe answer.', startsInside: false, reasoning: '\nweigh it up\n', content: 'The answer.' },
  { name: 'blanks before the opening marker', text: ' \n<think>a</think>b', startsInside: false, reasoning: 'a', content: 'b' },
  { name: 'prompt opened the segment', text: 'weigh </th it up</think>\n\n  The answer.', startsInside: true, reasoning: 'weigh </th it up', content: 'The answer.' },
  { name: 'nothing after </think>', text: '<think>only thoughts</think>\n\n', startsInside: false, reasoning: 'only thoughts', content: '' },
  { name: 'nothing after </think>, prompt opened it', text: 'x</think>', startsInside: true, reasoning: 'x', content: '' },
  { name: '</think> never arrives', text: '<think>thinking until the length limit </thi', startsInside: false, reasoning: 'thinking until the length limit </thi', content: '' },
  { name: '</think> never arrives, prompt opened it', text: 'thinking <and more', startsInside: true, reasoning: 'thinking <and more', content: '' },
  { name: 'no segment at all', text: 'Plain <think> answer </think> text', startsInside: false, reasoning: '', content: 'Plain <think> answer </think> text' },
  { name: 'a prefix of <think> that is not one', text: '  <thin ice', startsInside: false, reasoning: '', content: '  <thin ice' },
  { name: 'an empty segment (thinking switched off)', text: '<think>\n\n</think>\n\nHi <think>', startsInside: false, reasoning: '\n\n', content: 'Hi <think>' },
  { name: 'a tool call after the thoughts', text: '<think>call it</think>\n<tool_call>\n{"name": "f"}\n</tool_call>', startsInside: false, reasoning: 'call it', content: '<tool_call>\n{"name": "f"}\n</tool_call>' },
]

describe('ReasoningSplitter', () => {
  it.each(CASES)('$name: the same split at every character boundary', ({ text, startsInside, reasoning, content }) => {
    for (const parts of splits(text)) {
      const out = run(parts, startsInside)
      expect({ reasoning: out.reasoning, content: out.content }, JSON.stringify(parts)).toEqual({ reasoning, content })
      expect(out.ordered, JSON.stringify(parts)).toBe(true)
      for (const piece of out.pieces) expect(piece.text).not.toBe('')
    }
  })

  it('never releases a marker prefix before it knows what it is', () => {
    const splitter = new ReasoningSplitter(false)
    expect(splitter.push(' <thi')).toEqual([])
    expect(splitter.undecided).toBe(true)
    expect(splitter.push('nk>ab</')).toEqual([{ type: 'reasoning', text: 'ab' }])
    expect(splitter.inReasoning).toBe(true)
    expect(splitter.push('think')).toEqual([])
    expect(splitter.push('>  \n')).toEqual([])
    expect(splitter.inReasoning).toBe(false)
    expect(splitter.push(' c')).toEqual([{ type: 'content', text: 'c' }])
    expect(splitter.finish()).toEqual([])
  })

  it('touchedReasoning says whether a push read text inside the segment', () => {
    const splitter = new ReasoningSplitter(false)
    splitter.push('<think>a</think>b')
    expect(splitter.touchedReasoning).toBe(true)
    splitter.push('c')
    expect(splitter.touchedReasoning).toBe(false)
  })
})

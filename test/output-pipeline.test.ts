import { describe, expect, it } from 'vitest'
import { OutputPipeline, type OutputSetup } from '../src/engine/output-pipeline.js'
import { HERMES_FORMAT } from '../src/engine/tool-call-formats.js'
import type { GenerationEvent } from '../src/generation/events.js'
import type { GenerationRequest } from '../src/generation/request.js'

/** A toy vocabulary: each token id is one piece of text; 0 is the end-of-generation token. */
const PIECES = ['</s>', 'Hel', 'lo', ' wor', 'ld', '!', ' STOP', '<think>', 'hmm', '</think>', '<tool_call>\n', '{"name": "f", "arguments": {"a": 1}}', '\n</tool_call>', '\xe2', '\x82\xac']
const id = (piece: string) => PIECES.indexOf(piece)

function request(extra: Partial<GenerationRequest> = {}): OutputSetup['request'] {
  return {
    stop: { strings: [], tokenIds: [], includeStopString: false, minTokens: 0, ignoreEos: false },
    grammar: null,
    tools: null,
    logprobs: null,
    skipSpecialTokens: true,
    ...extra,
  }
}

function pipeline(extra: Partial<OutputSetup> = {}, req = request()): OutputPipeline {
  return new OutputPipeline({
    request: req,
    choice: 0,
    promptTokens: [1, 2],
    cachedTokens: 1,
    maxTokens: 100,
    // Bytes as latin-1 pieces, decoded as UTF-8 together: a split character decodes only when whole.
    detokenize: (tokens) => Buffer.from(tokens.map((t) => PIECES[t]!).join(''), 'latin1').toString('utf8'),
    isEndToken: (token) => token === 0,
    turnStopTokens: new Set(),
    turnStopTexts: [],
    toolFormat: null,
    reasoning: null,
    ...extra,
  })
}

function run(p: OutputPipeline, pieces: string[]): GenerationEvent[] {
  const events: GenerationEvent[] = []
  for (const piece of pieces) {
    p.push(id(piece))
    events.push(...p.take())
    if (p.finished) break
  }
  return events
}

const text = (events: GenerationEvent[]) => events.flatMap((e) => (e.type === 'text' ? [e.text] : [])).join('')
const finished = (events: GenerationEvent[]) => events.find((e) => e.type === 'finished') as Extract<GenerationEvent, { type: 'finished' }> | undefined

describe('OutputPipeline', () => {
  it('turns tokens into text and one finished event with usage at the end token', () => {
    const events = run(pipeline(), ['Hel', 'lo', ' wor', 'ld', '</s>'])
    expect(text(events)).toBe('Hello world')
    expect(finished(events)).toMatchObject({ reason: 'stop', stopReason: null, usage: { promptTokens: 2, completionTokens: 4, cachedTokens: 1 } })
    expect(events.filter((e) => e.type === 'text').reduce((sum, e) => sum + (e as { tokens: number }).tokens, 0)).toBe(4)
  })

  it('holds back a stop string across tokens and never emits it', () => {
    const p = pipeline({}, request({ stop: { strings: ['o wo'], tokenIds: [], includeStopString: false, minTokens: 0, ignoreEos: false } }))
    const events = run(p, ['Hel', 'lo', ' wor', 'ld'])
    expect(text(events)).toBe('Hell')
    expect(finished(events)).toMatchObject({ reason: 'stop', stopReason: 'o wo' })
  })

  it('ends with length at maxTokens, and a stop token id is the stop reason', () => {
    expect(finished(run(pipeline({ maxTokens: 2 }), ['Hel', 'lo', ' wor']))).toMatchObject({ reason: 'length', usage: { completionTokens: 2 } })
    const stopped = run(pipeline({}, request({ stop: { strings: [], tokenIds: [id('!')], includeStopString: false, minTokens: 0, ignoreEos: false } })), ['Hel', '!', 'lo'])
    expect(finished(stopped)).toMatchObject({ reason: 'stop', stopReason: id('!') })
  })

  it('holds a split UTF-8 character back until it is whole', () => {
    const p = pipeline()
    p.push(id('\xe2'))
    expect(text(p.take())).toBe('')
    p.push(id('\x82\xac'))
    expect(text(p.take())).toBe('€')
  })

  it('splits a thinking model’s reasoning from its content and counts its tokens', () => {
    const events = run(pipeline({ reasoning: { startsInside: false } }), ['<think>', 'hmm', '</think>', 'Hel', 'lo', '</s>'])
    expect(events.filter((e) => e.type === 'reasoning').map((e) => (e as { text: string }).text).join('')).toBe('hmm')
    expect(text(events)).toBe('Hello')
    expect(finished(events)!.usage.reasoningTokens).toBe(3)
  })

  it('parses tool calls into toolCallDelta events and finishes with tool_calls', () => {
    const tools = { definitions: [{ name: 'f', parameters: { type: 'object' } }], choice: { kind: 'auto' as const }, parallel: true }
    const events = run(pipeline({ toolFormat: HERMES_FORMAT }, request({ tools })), ['<tool_call>\n', '{"name": "f", "arguments": {"a": 1}}', '\n</tool_call>', '</s>'])
    const deltas = events.filter((e) => e.type === 'toolCallDelta') as Array<Extract<GenerationEvent, { type: 'toolCallDelta' }>>
    expect(deltas[0]).toMatchObject({ index: 0, name: 'f', argumentsDelta: '' })
    expect(JSON.parse(deltas.map((d) => d.argumentsDelta).join(''))).toEqual({ a: 1 })
    expect(finished(events)!.reason).toBe('tool_calls')
  })

  it('refuses a structured output that ended naturally but does not validate', () => {
    const p = pipeline({}, request({ grammar: { gbnf: 'root ::= "x"', schema: { type: 'object' }, param: 'response_format' } }))
    p.push(id('Hel'))
    expect(() => p.push(id('</s>'))).toThrow(/does not validate/)
  })
})

import { Value } from '@sinclair/typebox/value'
import { describe, expect, it } from 'vitest'
import { itemsToChatMessages, decodeInputItems, type ResponseItem } from '../src/api/codec/responses-items.js'
import { encodeItemPage } from '../src/api/codec/responses-pages.js'
import { decodeResponseRequest, renameFields, truncateToFit } from '../src/api/codec/responses-request.js'
import { ResponseEventEncoder } from '../src/api/codec/responses-stream.js'
import { ResponseCreateRequestSchema } from '../src/api/schemas/responses.js'
import type { GenerationEvent } from '../src/generation/events.js'
import { EngineError, InvalidRequestError } from '../src/errors.js'
import { checkResponseStream } from './helpers/response-events.js'

const usage = { promptTokens: 10, completionTokens: 7, cachedTokens: 4, reasoningTokens: 3 }
const limits = { maxChoices: 8, defaults: {}, trustRequestChatTemplate: false }
const ctx = { model: 'm', limits, prior: [], references: new Map(), store: true }

function encoder() {
  const { echo } = decodeResponseRequest({ input: 'x' }, ctx)
  return new ResponseEventEncoder({ id: 'resp_1', createdAt: 1, model: 'm' }, echo)
}

function run(events: GenerationEvent[]) {
  const e = encoder()
  return [...e.begin(), ...events.flatMap((event) => e.push(event))]
}

describe('ResponseEventEncoder', () => {
  it('reasoning, text, then two calls: four items in order, each opened and closed, usage mapped', () => {
    const events = run([
      { type: 'started', promptTokens: 10, cachedTokens: 4, choices: 1 },
      { type: 'reasoning', choice: 0, text: 'hm', tokens: 1 },
      { type: 'reasoning', choice: 0, text: 'm', tokens: 1 },
      { type: 'text', choice: 0, text: 'Let me ', tokens: 1 },
      { type: 'text', choice: 0, text: 'check.', tokens: 1 },
      { type: 'toolCallDelta', choice: 0, index: 0, id: 'call_a', name: 'f', argumentsDelta: '', tokens: 0 },
      { type: 'toolCallDelta', choice: 0, index: 0, argumentsDelta: '{"a":', tokens: 1 },
      { type: 'toolCallDelta', choice: 0, index: 0, argumentsDelta: '1}', tokens: 1 },
      { type: 'toolCallDelta', choice: 0, index: 1, id: 'call_b', name: 'g', argumentsDelta: '{}', tokens: 1 },
      { type: 'finished', choice: 0, reason: 'tool_calls', stopReason: null, usage },
    ])
    const final = checkResponseStream(events)
    expect(final.status).toBe('completed')
    expect(final.output.map((o: ResponseItem) => o.type)).toEqual(['reasoning', 'message', 'function_call', 'function_call'])
    expect(final.output[0].content).toEqual([{ type: 'reasoning_text', text: 'hmm' }])
    expect(final.output[1].content[0]).toEqual({ type: 'output_text', text: 'Let me check.', annotations: [], logprobs: [] })
    expect(final.output[2]).toMatchObject({ call_id: 'call_a', name: 'f', arguments: '{"a":1}', status: 'completed' })
    expect(final.output[3]).toMatchObject({ call_id: 'call_b', name: 'g', arguments: '{}' })
    expect(final.usage).toEqual({
      input_tokens: 10,
      input_tokens_details: { cached_tokens: 4 },
      output_tokens: 7,
      output_tokens_details: { reasoning_tokens: 3 },
      total_tokens: 17,
    })
    expect(final.completed_at).toBeGreaterThan(0)
  })

  it('length: incomplete, the open item incomplete; an empty output still has one (empty) message', () => {
    const cut = checkResponseStream(run([{ type: 'text', choice: 0, text: 'a', tokens: 1 }, { type: 'finished', choice: 0, reason: 'length', stopReason: null, usage }]))
    expect(cut).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } })
    expect(cut.output[0].status).toBe('incomplete')
    const empty = checkResponseStream(run([{ type: 'finished', choice: 0, reason: 'stop', stopReason: null, usage }]))
    expect(empty.output).toHaveLength(1)
    expect(empty.output[0].content[0].text).toBe('')
  })

  it('a failure mid-stream: an error event, then response.failed with the error; sequence numbers go on', () => {
    const e = encoder()
    const events = [...e.begin(), ...e.push({ type: 'text', choice: 0, text: 'a', tokens: 1 }), ...e.fail(new EngineError('boom'))]
    expect(events.map((x) => x.type).slice(-2)).toEqual(['error', 'response.failed'])
    expect(events.at(-2)).toMatchObject({ code: 'engine_error', message: 'boom' })
    expect(events.at(-1)!.response).toMatchObject({ status: 'failed', error: { code: 'engine_error', message: 'boom' } })
    expect(events.map((x) => x.sequence_number)).toEqual(events.map((_, i) => i))
  })
})

describe('items', () => {
  it('text input is one user message; items keep their ids; assistant text and calls are one turn, outputs are tool messages', () => {
    expect(decodeInputItems('hi', new Map())[0]).toMatchObject({ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] })
    const items = decodeInputItems(
      [
        { role: 'developer', content: 'rules' },
        { role: 'user', content: [{ type: 'input_text', text: 'a' }, { type: 'input_text', text: 'b' }] },
        { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 'think' }] },
        { type: 'message', id: 'msg_1', role: 'assistant', content: [{ type: 'output_text', text: 'ok', annotations: [] }] },
        { type: 'function_call', call_id: 'c1', name: 'f', arguments: '{}' },
        { type: 'function_call', call_id: 'c2', name: 'g', arguments: '{"x":1}' },
        { type: 'function_call_output', call_id: 'c1', output: 'one' },
        { type: 'function_call_output', call_id: 'c2', output: [{ type: 'input_text', text: 'two' }] },
      ],
      new Map(),
    )
    expect(items[3]!.id).toBe('msg_1')
    expect(items[4]!.id).toMatch(/^fc_/)
    expect(itemsToChatMessages(items)).toEqual([
      { role: 'developer', content: 'rules' },
      { role: 'user', content: 'a\nb' },
      {
        role: 'assistant',
        content: 'ok',
        reasoning_content: 'think',
        tool_calls: [
          { id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } },
          { id: 'c2', type: 'function', function: { name: 'g', arguments: '{"x":1}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'one' },
      { role: 'tool', tool_call_id: 'c2', content: 'two' },
    ])
  })

  it('bad items name their path', () => {
    const param = (input: unknown[]) => {
      try {
        decodeInputItems(input, new Map())
      } catch (error) {
        return (error as InvalidRequestError).param
      }
      return null
    }
    expect(param([{ type: 'function_call', call_id: 'c', name: 'f' }])).toBe('input[0].arguments')
    expect(param(['text'])).toBe('input[0]')
    expect(param([{ role: 'user', content: 'x' }, { role: 'user' }])).toBe('input[1].content')
    expect(param([{ role: 'user', content: [{ type: 'input_audio' }] }])).toBe('input[0].content[0].type')
  })

  it('input_items pages: desc by default, after a cursor, has_more', () => {
    const items = decodeInputItems(['a', 'b', 'c'].map((text) => ({ role: 'user', content: text })), new Map())
    const ids = items.map((i) => i.id)
    expect(encodeItemPage(items, {})).toMatchObject({ object: 'list', first_id: ids[2], last_id: ids[0], has_more: false })
    expect(encodeItemPage(items, { limit: '2', order: 'asc' })).toMatchObject({ first_id: ids[0], last_id: ids[1], has_more: true })
    expect(encodeItemPage(items, { limit: '2', order: 'asc', after: ids[1] }).data.map((i) => i.id)).toEqual([ids[2]])
    expect(() => encodeItemPage(items, { after: 'msg_x' })).toThrow(InvalidRequestError)
  })
})

describe('request decoding', () => {
  it('through chat: max_output_tokens, text.format, reasoning.effort and the sampling extras', () => {
    const { generation, echo } = decodeResponseRequest(
      {
        input: 'x',
        instructions: 'sys',
        max_output_tokens: 9,
        top_k: 5,
        seed: 3,
        text: { format: { type: 'json_schema', name: 'n', schema: { type: 'object', properties: { a: { type: 'boolean' } }, required: ['a'] }, strict: true } },
        reasoning: { effort: 'low' },
      } as never,
      ctx,
    )
    expect(generation.maxTokens).toBe(9)
    expect(generation.sampling).toMatchObject({ topK: 5, seed: 3 })
    expect(generation.grammar?.schema).toEqual({ type: 'object', properties: { a: { type: 'boolean' } }, required: ['a'] })
    expect(generation.input).toMatchObject({ kind: 'chat', messages: [{ role: 'system', content: 'sys' }, { role: 'user', content: 'x' }], template: { reasoningEffort: 'low' } })
    expect(echo.text.format).toMatchObject({ type: 'json_schema', name: 'n', strict: true })
  })

  it("temperature and top_p share chat's rules (0–4; top_p 0 is greedy); the echo keeps what was sent", () => {
    const { generation, echo } = decodeResponseRequest({ input: 'x', top_p: 0, seed: 1 } as never, ctx)
    expect(generation.sampling).toEqual(decodeResponseRequest({ input: 'x', temperature: 0, seed: 1 } as never, ctx).generation.sampling)
    expect(echo).toMatchObject({ top_p: 0, temperature: 0 })
    expect(decodeResponseRequest({ input: 'x', temperature: 4, top_p: 0.5 } as never, ctx).echo).toMatchObject({ temperature: 4, top_p: 0.5 })
    expect(Value.Check(ResponseCreateRequestSchema, { input: 'x', temperature: 4, top_p: 0 })).toBe(true)
    expect(Value.Check(ResponseCreateRequestSchema, { input: 'x', temperature: 4.5 })).toBe(false)
  })

  it("text.verbosity is OpenAI's enum, echoed (medium when absent)", () => {
    for (const verbosity of ['low', 'medium', 'high', null]) {
      expect(Value.Check(ResponseCreateRequestSchema, { input: 'x', text: { verbosity } })).toBe(true)
    }
    for (const verbosity of ['bogus', 'LOW', '', 3]) {
      expect(Value.Check(ResponseCreateRequestSchema, { input: 'x', text: { verbosity } })).toBe(false)
    }
    expect(decodeResponseRequest({ input: 'x', text: { verbosity: 'low' } } as never, ctx).echo.text.verbosity).toBe('low')
    expect(decodeResponseRequest({ input: 'x' }, ctx).echo.text.verbosity).toBe('medium')
  })

  it("chat's field names become the Responses names in errors", () => {
    expect(renameFields("response_format cannot be combined with tool calls")).toBe('text.format cannot be combined with tool calls')
    expect(renameFields('tools[3].function.parameters')).toBe('tools[3].parameters')
    expect(renameFields('messages[2].content')).toBe('input')
  })

  it('truncation auto (after a refusal) drops the fewest oldest turns that make it fit; system messages stay, orphaned call results go', async () => {
    const { generation } = decodeResponseRequest(
      {
        instructions: 'sys',
        input: [
          { role: 'user', content: 'u1' },
          { type: 'function_call', call_id: 'c', name: 'f', arguments: '{}' },
          { type: 'function_call_output', call_id: 'c', output: 'r' },
          { role: 'user', content: 'u2' },
          { role: 'assistant', content: 'a2' },
          { role: 'user', content: 'last' },
        ],
      },
      ctx,
    )
    const contents = (g: typeof generation) => (g.input.kind === 'chat' ? g.input.messages.map((m) => m.content || m.role) : [])
    const asked: number[] = []
    const fitting = (max: number) => async (g: typeof generation) => asked.push(contents(g).length) > 0 && contents(g).length <= max
    // Called once the engine refused the whole request: it is not asked about again, and one turn goes.
    expect(contents(await truncateToFit(generation, fitting(7)))).toEqual(['sys', 'assistant', 'r', 'u2', 'a2', 'last'])
    expect(asked).not.toContain(contents(generation).length)
    expect(contents(await truncateToFit(generation, fitting(4)))).toEqual(['sys', 'u2', 'a2', 'last'])
    expect(contents(await truncateToFit(generation, fitting(5)))).toEqual(['sys', 'u2', 'a2', 'last']) // the call's turn takes its result along
    expect(contents(await truncateToFit(generation, fitting(2)))).toEqual(['sys', 'last'])
    expect(contents(await truncateToFit(generation, fitting(1)))).toEqual(['sys', 'last']) // the last turn is never dropped
  })
})

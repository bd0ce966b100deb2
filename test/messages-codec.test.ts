import { Value } from '@sinclair/typebox/value'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { encodeAnthropicError } from '../src/api/codec/messages-errors.js'
import { decodeMessagesRequest } from '../src/api/codec/messages-request.js'
import { foldMessage, MessageStreamEncoder } from '../src/api/codec/messages-response.js'
import { MessageSchema, MessagesRequestSchema, type MessagesRequest } from '../src/api/schemas/messages.js'
import type { GenerationEvent } from '../src/generation/events.js'
import { ThinkingBudget } from '../src/engine/thinking-budget.js'
import {
  ContextLengthExceededError,
  EngineError,
  InvalidRequestError,
  ModelNotFoundError,
  OverloadedError,
  PayloadTooLargeError,
  RateLimitedError,
  UnauthorizedError,
  UnavailableError,
} from '../src/errors.js'

const LIMITS = { maxChoices: 8, defaults: {}, trustRequestChatTemplate: false }
const USER = [{ role: 'user' as const, content: 'hi' }]

const decode = (extra: Record<string, unknown> = {}) => decodeMessagesRequest({ model: 'm', max_tokens: 16, messages: USER, ...extra } as MessagesRequest, 'm', LIMITS)

function invalid(extra: Record<string, unknown>): InvalidRequestError {
  try {
    decode(extra)
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidRequestError)
    return error as InvalidRequestError
  }
  return expect.fail('decodeMessagesRequest did not throw')
}

const TOOL = { name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }

describe('decodeMessagesRequest: the prompt', () => {
  it('system (string or text blocks) first, then the turns; text blocks joined by newlines', () => {
    const { input } = decode({
      system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }, { type: 'text', text: 'Be kind.' }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] },
        { role: 'assistant', content: 'c' },
        { role: 'user', content: 'd' },
      ],
    })
    expect(input).toEqual({
      kind: 'chat',
      messages: [
        { role: 'system', content: 'Be brief.\nBe kind.' },
        { role: 'user', content: 'a\nb' },
        { role: 'assistant', content: 'c' },
        { role: 'user', content: 'd' },
      ],
    })
    expect((decode({ system: 'S' }).input as any).messages[0]).toEqual({ role: 'system', content: 'S' })
  })

  it('consecutive turns of one role are merged, as Anthropic does', () => {
    const { input } = decode({ messages: [{ role: 'user', content: 'a' }, { role: 'user', content: [{ type: 'text', text: 'b' }] }] })
    expect((input as any).messages).toEqual([{ role: 'user', content: 'a\nb' }])
  })

  it('assistant tool_use → calls, thinking → reasoning, redacted_thinking dropped; tool_result → tool messages in place', () => {
    const { input } = decode({
      tools: [TOOL],
      messages: [
        { role: 'user', content: 'Weather?' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'Use the tool.', signature: 'sig' },
            { type: 'redacted_thinking', data: 'opaque' },
            { type: 'text', text: 'Checking.' },
            { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
            { type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: { city: 'Rome' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' },
            { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: 'no' }, { type: 'text', text: 'data' }], is_error: true },
            { type: 'text', text: 'And now?' },
          ],
        },
      ],
    })
    expect((input as any).messages).toEqual([
      { role: 'user', content: 'Weather?' },
      {
        role: 'assistant',
        content: 'Checking.',
        reasoning: 'Use the tool.',
        toolCalls: [
          { id: 'toolu_1', name: 'get_weather', arguments: { city: 'Paris' } },
          { id: 'toolu_2', name: 'get_weather', arguments: { city: 'Rome' } },
        ],
      },
      { role: 'tool', content: 'sunny', toolCallId: 'toolu_1' },
      { role: 'tool', content: 'Error: no\ndata', toolCallId: 'toolu_2' },
      { role: 'user', content: 'And now?' },
    ])
  })

  it('a last assistant turn is continued (prefill), not answered', () => {
    const { input } = decode({ messages: [...USER, { role: 'assistant', content: 'The answer is (' }] })
    expect((input as any).template).toMatchObject({ continueFinalMessage: true, addGenerationPrompt: false })
    expect(decode().input).not.toHaveProperty('template')
  })

  it('thinking switches the template: enabled/adaptive on, disabled off', () => {
    expect((decode({ thinking: { type: 'enabled', budget_tokens: 8 } }).input as any).template.variables).toEqual({ enable_thinking: true })
    expect((decode({ thinking: { type: 'adaptive' } }).input as any).template.variables).toEqual({ enable_thinking: true })
    expect((decode({ thinking: { type: 'disabled' } }).input as any).template.variables).toEqual({ enable_thinking: false })
  })

  it('refuses image, document and unknown blocks, naming them and where they are', () => {
    const image = invalid({ messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }, { type: 'image', source: {} }] }] })
    expect(image.param).toBe('messages[0].content[1].type')
    expect(image.message).toMatch(/'image' blocks.*vision/)
    expect(invalid({ messages: [{ role: 'user', content: [{ type: 'document', source: {} }] }] }).message).toMatch(/'document'/)
    expect(invalid({ messages: [{ role: 'user', content: [{ type: 'thinking', thinking: 'x' }] }] }).message).toMatch(/'thinking'/)
    const nested = invalid({
      messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'get_weather', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'image', source: {} }] }] },
      ],
      tools: [TOOL],
    })
    expect(nested.param).toBe('messages[2].content[0].content[0].type')
  })

  it('a system role among the turns is refused, naming it, as Anthropic does (the system prompt is the top-level field)', () => {
    const error = invalid({ messages: [...USER, { role: 'assistant', content: 'a' }, { role: 'system', content: 'Be brief.' }] })
    expect(error.param).toBe('messages[2].role')
    expect(error.message).toMatch(/^messages\[2\]\.role: Unexpected role "system".*top-level `system`/)
  })

  it('a tool_result must answer an earlier tool_use; a trailing assistant turn may not call tools', () => {
    expect(invalid({ messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'nope', content: 'x' }] }] }).param).toBe(
      'messages[0].content[0].tool_use_id',
    )
    expect(invalid({ messages: [...USER, { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'f', input: {} }] }] }).message).toMatch(/tool_result/)
  })

  it('refuses server tools, MCP servers and containers by name', () => {
    const search = invalid({ tools: [{ type: 'web_search_20250305', name: 'web_search' }] })
    expect(search.param).toBe('tools[0].type')
    expect(search.message).toMatch(/'web_search_20250305'.*'web_search'/)
    expect(invalid({ tools: [{ name: 'f' }] }).param).toBe('tools[0].input_schema')
    expect(invalid({ mcp_servers: [{ type: 'url', url: 'http://x', name: 'x' }] }).param).toBe('mcp_servers')
    expect(invalid({ container: 'c' }).param).toBe('container')
  })
})

describe('decodeMessagesRequest: generation', () => {
  it('max_tokens, stop_sequences and sampling map into the contract', () => {
    const request = decode({ max_tokens: 7, stop_sequences: ['END', '\n\n'], temperature: 0.2, top_p: 0.9, top_k: 5 })
    expect(request.maxTokens).toBe(7)
    expect(request.stop.strings).toEqual(['END', '\n\n'])
    expect(request.sampling).toMatchObject({ temperature: 0.2, topP: 0.9, topK: 5 })
    expect(request).toMatchObject({ n: 1, logprobs: null, echo: false, thinkingBudget: null })
  })

  it('tools and tool_choice go through chat’s decoder: any → required, tool → named, disable_parallel_tool_use', () => {
    expect(decode({ tools: [TOOL] }).tools).toMatchObject({ choice: { kind: 'auto' }, parallel: true, definitions: [{ name: 'get_weather', parameters: TOOL.input_schema }] })
    expect(decode({ tools: [TOOL], tool_choice: { type: 'any' } }).tools!.choice).toEqual({ kind: 'required' })
    expect(decode({ tools: [TOOL], tool_choice: { type: 'tool', name: 'get_weather' } }).tools!.choice).toEqual({ kind: 'named', name: 'get_weather' })
    expect(decode({ tools: [TOOL], tool_choice: { type: 'none' } }).tools!.choice).toEqual({ kind: 'none' })
    expect(decode({ tools: [TOOL], tool_choice: { type: 'auto', disable_parallel_tool_use: true } }).tools!.parallel).toBe(false)
    expect(invalid({ tool_choice: { type: 'any' } }).message).toMatch(/tool_choice 'any' needs tools/)
    expect(invalid({ tools: [TOOL], tool_choice: { type: 'tool', name: 'other' } }).message).toMatch(/'other'/)
    // input_schema is converted to a grammar: with strict, a keyword it cannot enforce is a 400.
    const lookahead = { type: 'object', properties: { a: { type: 'string', pattern: '^(?=x)x+$' } } }
    expect(invalid({ tools: [{ ...TOOL, strict: true, input_schema: lookahead }] }).message).toMatch(/pattern/)
    // Anthropic's default (strict absent = false) relaxes it instead, and reports it.
    expect(decode({ tools: [{ ...TOOL, input_schema: lookahead }] }).tools!.relaxed).toEqual([expect.stringMatching(/^pattern at tools\[0\]/)])
    expect(invalid({ tools: [{ ...TOOL, strict: 'yes' }] }).message).toMatch(/strict/)
  })

  it('thinking enabled: budget_tokens is required, below max_tokens, and becomes the thinking budget', () => {
    expect(decode({ max_tokens: 64, thinking: { type: 'enabled', budget_tokens: 16 } }).thinkingBudget).toBe(16)
    expect(invalid({ thinking: { type: 'enabled' } }).param).toBe('thinking.budget_tokens')
    expect(invalid({ max_tokens: 16, thinking: { type: 'enabled', budget_tokens: 16 } }).message).toMatch(/less than max_tokens/)
    expect(decode({ thinking: { type: 'adaptive', display: 'omitted' } })).toMatchObject({ thinkingBudget: null, reportReasoning: false })
  })

  it('output_config.format (and the beta output_format) is enforced by the schema’s grammar, strictly', () => {
    const schema = { type: 'object', properties: { c: { type: 'integer' } }, required: ['c'], additionalProperties: false }
    const grammar = decode({ output_config: { format: { type: 'json_schema', schema } } }).grammar!
    expect(grammar).toMatchObject({ schema, param: 'output_config.format.schema' })
    expect(grammar.gbnf).toMatch(/root/)
    expect(decode({ output_format: { type: 'json_schema', schema } }).grammar).toMatchObject({ schema, param: 'output_format.schema' })
    expect(decode({}).grammar).toBeNull()
    expect(decode({ output_config: { format: null } }).grammar).toBeNull()
    // A keyword the grammar cannot enforce is a 400 naming the field and the keyword, without chat's `strict: false` way out.
    const not = invalid({ output_config: { format: { type: 'json_schema', schema: { type: 'object', properties: { a: { not: { type: 'string' } } } } } } })
    expect(not.param).toBe('output_config.format.schema')
    expect(not.message).toMatch(/output_config\.format\.schema.*not/)
    expect(not.message).not.toMatch(/strict/)
    expect(invalid({ output_format: { type: 'json_schema', schema: { type: 'string', pattern: '^(?=a)a$' } } }).param).toBe('output_format.schema')
    expect(invalid({ output_config: { format: { type: 'json_schema', schema } }, output_format: { type: 'json_schema', schema } }).param).toBe('output_format')
  })

  it('output_config: a format beside tool use or a prefill is refused; effort goes to the template; other keys are refused', () => {
    const format = { type: 'json_schema', schema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } }
    // As chat with response_format: one grammar per request.
    expect(invalid({ output_config: { format }, tools: [TOOL] }).message).toMatch(/^output_config\.format cannot be combined with tool use/)
    expect(invalid({ output_format: format, tools: [TOOL], tool_choice: { type: 'tool', name: 'get_weather' } }).param).toBe('output_format')
    expect(decode({ output_config: { format }, tools: [TOOL], tool_choice: { type: 'none' } }).grammar).not.toBeNull()
    expect(invalid({ output_config: { format }, messages: [...USER, { role: 'assistant', content: '{' }] }).message).toMatch(/prefilled/)
    const template = (extra: Record<string, unknown>) => (decode(extra).input as { template?: { reasoningEffort: unknown } }).template
    expect(template({ output_config: { effort: 'low' } })?.reasoningEffort).toBe('low')
    expect(template({ output_config: { effort: 'max' } })?.reasoningEffort).toBe('high')
    expect(template({ output_config: {} })).toBeUndefined()
    expect(invalid({ output_config: { task_budget: { total: 10 } } }).param).toBe('output_config.task_budget')
    expect(Value.Check(MessagesRequestSchema, { model: 'm', max_tokens: 1, messages: USER, output_config: { format: { type: 'json_object' } } })).toBe(false)
  })

  it('the request schema requires max_tokens and keeps Anthropic’s ranges', () => {
    expect(Value.Check(MessagesRequestSchema, { model: 'm', messages: USER })).toBe(false)
    expect(Value.Check(MessagesRequestSchema, { model: 'm', max_tokens: 1, messages: USER, temperature: 1.5 })).toBe(false)
    expect(Value.Check(MessagesRequestSchema, { model: 'm', max_tokens: 1, messages: USER, metadata: { user_id: 'u' }, stream: true })).toBe(true)
  })
})

const usage = (completionTokens: number) => ({ promptTokens: 30, completionTokens, cachedTokens: 12 })

async function* events(list: GenerationEvent[]): AsyncGenerator<GenerationEvent> {
  yield* list
}

describe('MessageStreamEncoder', () => {
  const THOUGHT_TEXT_CALLS: GenerationEvent[] = [
    { type: 'started', promptTokens: 30, cachedTokens: 12, choices: 1 },
    { type: 'reasoning', choice: 0, text: 'Hm', tokens: 1 },
    { type: 'reasoning', choice: 0, text: 'm.', tokens: 1 },
    { type: 'text', choice: 0, text: 'Let me check.', tokens: 3 },
    { type: 'toolCallDelta', choice: 0, index: 0, id: 'call_abc', name: 'get_weather', argumentsDelta: '', tokens: 2 },
    { type: 'toolCallDelta', choice: 0, index: 0, argumentsDelta: '{"city": ', tokens: 2 },
    { type: 'toolCallDelta', choice: 0, index: 0, argumentsDelta: '"Paris"}', tokens: 2 },
    { type: 'toolCallDelta', choice: 0, index: 1, id: 'call_def', name: 'get_time', argumentsDelta: '{}', tokens: 2 },
    { type: 'finished', choice: 0, reason: 'tool_calls', stopReason: null, usage: usage(15) },
  ]

  it('streams blocks in order with their indices, deltas of each kind, then message_delta and message_stop', () => {
    const encoder = new MessageStreamEncoder('msg_1', 'claude-x')
    const frames = THOUGHT_TEXT_CALLS.flatMap((e) => encoder.push(e))
    for (const f of frames) expect(f.event).toBe(f.data.type)
    const sig = (frames.find((f) => (f.data as any).delta?.type === 'signature_delta')!.data as any).delta.signature
    expect(frames.map((f) => [f.data.type, (f.data as any).index, (f.data as any).delta?.type ?? (f.data as any).content_block?.type])).toEqual([
      ['message_start', undefined, undefined],
      ['content_block_start', 0, 'thinking'],
      ['content_block_delta', 0, 'thinking_delta'],
      ['content_block_delta', 0, 'thinking_delta'],
      ['content_block_delta', 0, 'signature_delta'],
      ['content_block_stop', 0, undefined],
      ['content_block_start', 1, 'text'],
      ['content_block_delta', 1, 'text_delta'],
      ['content_block_stop', 1, undefined],
      ['content_block_start', 2, 'tool_use'],
      ['content_block_delta', 2, 'input_json_delta'],
      ['content_block_delta', 2, 'input_json_delta'],
      ['content_block_stop', 2, undefined],
      ['content_block_start', 3, 'tool_use'],
      ['content_block_delta', 3, 'input_json_delta'],
      ['content_block_stop', 3, undefined],
      ['message_delta', undefined, undefined],
      ['message_stop', undefined, undefined],
    ])
    expect(frames[0]!.data).toMatchObject({
      message: { id: 'msg_1', model: 'claude-x', content: [], stop_reason: null, usage: { input_tokens: 18, cache_read_input_tokens: 12, cache_creation_input_tokens: 0, output_tokens: 0 } },
    })
    expect(frames[9]!.data).toMatchObject({ content_block: { type: 'tool_use', id: 'toolu_abc', name: 'get_weather', input: {} } })
    expect(frames.at(-2)!.data).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'tool_use', stop_sequence: null },
      usage: { input_tokens: 18, cache_creation_input_tokens: 0, cache_read_input_tokens: 12, output_tokens: 15 },
    })
    expect(encoder.message.content).toEqual([
      { type: 'thinking', thinking: 'Hmm.', signature: sig },
      { type: 'text', text: 'Let me check.' },
      { type: 'tool_use', id: 'toolu_abc', name: 'get_weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'toolu_def', name: 'get_time', input: {} },
    ])
    expect(Value.Check(MessageSchema, encoder.message)).toBe(true)
  })

  it('signs thinking deterministically for one text, differently for another', () => {
    const sign = (text: string) => {
      const encoder = new MessageStreamEncoder('m', 'm')
      for (const e of [THOUGHT_TEXT_CALLS[0]!, { type: 'reasoning', choice: 0, text, tokens: 1 } as const, { type: 'finished', choice: 0, reason: 'stop', stopReason: null, usage: usage(1) } as const]) encoder.push(e)
      return (encoder.message.content[0] as { signature: string }).signature
    }
    expect(sign('a')).toBe(sign('a'))
    expect(sign('a')).not.toBe(sign('b'))
    expect(sign('a').length).toBeGreaterThan(20)
  })

  it('folds to the same message the stream adds up to, with the stop reason mapped', async () => {
    const finish = (reason: 'stop' | 'length', stopReason: string | null) =>
      foldMessage(
        events([
          { type: 'started', promptTokens: 5, cachedTokens: 0, choices: 1 },
          { type: 'text', choice: 0, text: 'Hi', tokens: 1 },
          { type: 'text', choice: 0, text: '', tokens: 0 },
          { type: 'finished', choice: 0, reason, stopReason, usage: { promptTokens: 5, completionTokens: 1, cachedTokens: 0 } },
        ]),
        new MessageStreamEncoder('msg_2', 'm'),
      )
    expect(await finish('stop', null)).toMatchObject({ content: [{ type: 'text', text: 'Hi' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 5, output_tokens: 1 } })
    expect(await finish('stop', '###')).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: '###' })
    expect(await finish('length', null)).toMatchObject({ stop_reason: 'max_tokens' })
    await expect(foldMessage(events([{ type: 'started', promptTokens: 1, cachedTokens: 0, choices: 1 }]), new MessageStreamEncoder('m', 'm'))).rejects.toBeInstanceOf(EngineError)
  })

  it('a call cut short by max_tokens keeps its block with an empty input', () => {
    const encoder = new MessageStreamEncoder('m', 'm')
    for (const e of [
      THOUGHT_TEXT_CALLS[0]!,
      { type: 'toolCallDelta', choice: 0, index: 0, id: 'call_x', name: 'f', argumentsDelta: '{"a": "unfini', tokens: 3 } as const,
      { type: 'finished', choice: 0, reason: 'length', stopReason: null, usage: usage(3) } as const,
    ]) encoder.push(e)
    expect(encoder.message).toMatchObject({ content: [{ type: 'tool_use', input: {} }], stop_reason: 'max_tokens' })
  })
})

describe('encodeAnthropicError', () => {
  it('every status gets its Anthropic type; a full queue is 529 overloaded_error, a rate limit 429', () => {
    const cases: Array<[Error & { status: number }, number, string]> = [
      [new InvalidRequestError('bad', 'x'), 400, 'invalid_request_error'],
      [new UnauthorizedError(), 401, 'authentication_error'],
      [new ModelNotFoundError('x', []), 404, 'not_found_error'],
      [new PayloadTooLargeError(10), 413, 'request_too_large'],
      [new RateLimitedError(3, 'Rate limit reached; retry in 3s.'), 429, 'rate_limit_error'],
      [new OverloadedError(1), 529, 'overloaded_error'],
      [new UnavailableError('loading', 'model_loading'), 503, 'overloaded_error'],
      [new EngineError('boom'), 500, 'api_error'],
    ]
    for (const [error, status, type] of cases) {
      const encoded = encodeAnthropicError(error as never, 'req_1')
      expect(encoded).toEqual({ status, body: { type: 'error', error: { type, message: error.message }, request_id: 'req_1' } })
    }
    const tooLong = encodeAnthropicError(new ContextLengthExceededError(10, 5), 'r').body.error
    expect(tooLong).toEqual({ type: 'invalid_request_error', message: expect.stringMatching(/^prompt is too long: .*5 tokens/) })
    const forbidden = Object.assign(new InvalidRequestError('no', null), { status: 403 })
    expect(encodeAnthropicError(forbidden, 'r').body.error.type).toBe('permission_error')
  })
})

describe('ThinkingBudget', () => {
  it('forces the closing marker once the budget less its length is used, then stops', () => {
    const budget = new ThinkingBudget(6, [70, 71, 72])
    expect(budget.forcedToken(true, 2)).toBeNull()
    expect(budget.forcedToken(true, 3)).toBe(70)
    expect(budget.forcedToken(true, 3)).toBe(70) // idempotent until a token is accepted
    budget.accepted(70)
    expect(budget.forcedToken(true, 4)).toBe(71)
    budget.accepted(71)
    expect(budget.forcedToken(true, 5)).toBe(72)
    budget.accepted(72)
    expect(budget.forcedToken(false, 6)).toBeNull()
  })

  it('starts the marker over when another token came, and never forces outside the segment', () => {
    const budget = new ThinkingBudget(4, [70, 71])
    expect(budget.forcedToken(false, 10)).toBeNull()
    expect(budget.forcedToken(true, 2)).toBe(70)
    budget.accepted(70)
    expect(budget.forcedToken(true, 3)).toBe(71)
    budget.accepted(5) // a grammar may have disagreed
    expect(budget.forcedToken(true, 4)).toBe(70)
  })
})

describe('decodeMessagesRequest on arbitrary blocks', () => {
  it('any body the schema admits either decodes or is a 400, never another error', () => {
    const block = fc.record(
      {
        type: fc.constantFrom('text', 'image', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking', 'document', 'server_tool_use', 'x'),
        text: fc.anything(),
        id: fc.anything(),
        name: fc.anything(),
        input: fc.anything(),
        tool_use_id: fc.constantFrom('t1', 't2', 7, null),
        content: fc.oneof(fc.string(), fc.array(fc.record({ type: fc.constantFrom('text', 'image'), text: fc.anything() })), fc.anything()),
        is_error: fc.anything(),
        thinking: fc.anything(),
      },
      { requiredKeys: ['type'] },
    )
    const message = fc.record({ role: fc.constantFrom('user', 'assistant', 'system'), content: fc.oneof(fc.string(), fc.array(block, { maxLength: 4 })) })
    const body = fc.record(
      {
        messages: fc.array(message, { minLength: 1, maxLength: 5 }),
        tools: fc.array(fc.oneof(fc.constant(TOOL), fc.record({ name: fc.anything(), input_schema: fc.anything(), type: fc.anything(), strict: fc.anything() }, { requiredKeys: [] }))),
        tool_choice: fc.oneof(fc.constant(null), fc.record({ type: fc.constantFrom('auto', 'any', 'tool', 'none'), name: fc.string() })),
        thinking: fc.oneof(fc.constant(null), fc.record({ type: fc.constantFrom('enabled', 'disabled', 'adaptive'), budget_tokens: fc.integer({ min: 1, max: 64 }) })),
      },
      { requiredKeys: ['messages'] },
    )
    fc.assert(
      fc.property(body, (extra) => {
        const wire = { model: 'm', max_tokens: 32, ...extra }
        if (!Value.Check(MessagesRequestSchema, wire)) return
        try {
          decode(wire)
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidRequestError)
        }
      }),
      { numRuns: 500 },
    )
  })
})

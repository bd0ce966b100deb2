import { Value } from '@sinclair/typebox/value'
import { describe, expect, it } from 'vitest'
import { decodeChatRequest } from '../src/api/codec/chat-request.js'
import { ignoredParams } from '../src/api/codec/generation-params.js'
import { ChatChunkEncoder, encodeChatCompletion, encodeUsage, newResponseMeta, type ResponseMeta } from '../src/api/codec/chat-response.js'
import { foldEvents, UsageTotals } from '../src/api/codec/fold-events.js'
import {
  ChatCompletionChunkSchema,
  ChatCompletionRequestSchema,
  ChatCompletionSchema,
  type ChatCompletionChunk,
  type ChatCompletionRequest,
} from '../src/api/schemas/chat.js'
import type { GenerationEvent, TokenLogprob } from '../src/generation/events.js'
import { EngineError, InvalidRequestError } from '../src/errors.js'

const LIMITS = { maxChoices: 8, defaults: {}, trustRequestChatTemplate: false }

const USER = [{ role: 'user' as const, content: 'hi' }]

function request(extra: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest {
  return { messages: USER, ...extra } as ChatCompletionRequest
}

/** For bodies whose content parts carry fields the wire type leaves open (`text`, `refusal`). */
const loose = (body: unknown) => body as ChatCompletionRequest

/** The InvalidRequestError decodeChatRequest throws for `body`. */
function invalid(body: unknown): InvalidRequestError {
  try {
    decodeChatRequest(body as ChatCompletionRequest, 'm', LIMITS)
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidRequestError)
    return error as InvalidRequestError
  }
  return expect.fail('decodeChatRequest did not throw')
}

describe('decodeChatRequest: messages', () => {
  it('maps developer to system and keeps the other roles', () => {
    const decoded = decodeChatRequest(
      request({
        messages: [
          { role: 'developer', content: 'be brief' },
          { role: 'system', content: 'sys' },
          { role: 'user', content: 'q', name: 'alice' },
          { role: 'assistant', content: 'a' },
          { role: 'tool', content: 'result', tool_call_id: 'call_1' },
        ],
      }),
      'model-x',
      LIMITS,
    )
    expect(decoded.model).toBe('model-x')
    expect(decoded.input).toEqual({
      kind: 'chat',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'system', content: 'sys' },
        { role: 'user', content: 'q', name: 'alice' },
        { role: 'assistant', content: 'a' },
        { role: 'tool', content: 'result', toolCallId: 'call_1' },
      ],
    })
  })

  it('joins text parts with "\\n", refusal parts included', () => {
    const decoded = decodeChatRequest(
      loose({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'first' },
              { type: 'text', text: 'second' },
            ],
          },
          { role: 'assistant', content: [{ type: 'refusal', refusal: 'no' }, { type: 'text', text: 'ok' }] },
        ],
      }),
      'm',
      LIMITS,
    )
    expect(decoded.input).toEqual({
      kind: 'chat',
      messages: [
        { role: 'user', content: 'first\nsecond' },
        { role: 'assistant', content: 'no\nok' },
      ],
    })
  })

  it('an empty parts list is empty content', () => {
    const decoded = decodeChatRequest(request({ messages: [{ role: 'user', content: [] }] }), 'm', LIMITS)
    expect(decoded.input).toEqual({ kind: 'chat', messages: [{ role: 'user', content: '' }] })
  })

  it('an image_url part is refused, naming the part type', () => {
    const error = invalid({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'what is this?' },
            { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
          ],
        },
      ],
    })
    expect(error.status).toBe(400)
    expect(error.param).toBe('messages[0].content[1].type')
    expect(error.message).toContain('image_url')
  })

  it('the param names the right message index', () => {
    const error = invalid({
      messages: [
        { role: 'system', content: 'x' },
        { role: 'user', content: [{ type: 'input_audio', input_audio: {} }] },
      ],
    })
    expect(error.param).toBe('messages[1].content[0].type')
  })

  it('a text part without a string text is refused', () => {
    expect(invalid({ messages: [{ role: 'user', content: [{ type: 'text', text: 3 }] }] }).param).toBe('messages[0].content[0].text')
    expect(invalid({ messages: [{ role: 'user', content: [{ type: 'text' }] }] }).param).toBe('messages[0].content[0].text')
  })

  it('an assistant message may have null content; others may not', () => {
    const decoded = decodeChatRequest(request({ messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: null }] }), 'm', LIMITS)
    expect(decoded.input).toEqual({ kind: 'chat', messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: '' }] })
    expect(invalid({ messages: [{ role: 'user', content: null }] }).param).toBe('messages[0].content')
    expect(invalid({ messages: [{ role: 'system' }] }).param).toBe('messages[0].content')
  })

  it('a tool message needs tool_call_id', () => {
    expect(invalid({ messages: [{ role: 'tool', content: 'r' }] }).param).toBe('messages[0].tool_call_id')
  })

  it('tool calls in the conversation pass to the template: JSON arguments parsed, others kept as strings', () => {
    const error = invalid({ messages: [USER[0], { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function' }] }] })
    expect(error.param).toBe('messages[1].tool_calls[0].function.name')
    const custom = invalid({ messages: [USER[0], { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'custom', custom: {} }] }] })
    expect(custom.param).toBe('messages[1].tool_calls[0].type')
    expect(() => decodeChatRequest(request({ messages: [{ role: 'assistant', content: 'a', tool_calls: [] }] }), 'm', LIMITS)).not.toThrow()
    const decoded = decode({
      messages: [
        USER[0]!,
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a": 1}' } },
            { id: 'c2', type: 'function', function: { name: 'g', arguments: { b: 2 } } },
            { id: 'c3', type: 'function', function: { name: 'h', arguments: 'not json' } },
          ],
        },
        { role: 'tool', content: '1', tool_call_id: 'c1', name: 'f' },
      ],
    })
    expect(decoded.input).toEqual({
      kind: 'chat',
      messages: [
        { role: 'user', content: USER[0]!.content },
        {
          role: 'assistant',
          content: '',
          toolCalls: [
            { id: 'c1', name: 'f', arguments: { a: 1 } },
            { id: 'c2', name: 'g', arguments: { b: 2 } },
            { id: 'c3', name: 'h', arguments: 'not json' },
          ],
        },
        { role: 'tool', content: '1', name: 'f', toolCallId: 'c1' },
      ],
    })
  })

  it('the legacy function role is the tool result of the latest earlier call of that name', () => {
    const messages = decode(
      loose({
        messages: [
          USER[0],
          { role: 'assistant', content: null, function_call: { name: 'f', arguments: '{}' } },
          { role: 'function', name: 'f', content: 'first' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'c9', type: 'function', function: { name: 'f', arguments: '{}' } }] },
          { role: 'function', name: 'f', content: [{ type: 'text', text: 'second' }] },
          // No call of that name in the history: still a result, with no id to match.
          { role: 'function', name: 'g', content: 'orphan' },
        ],
      }),
    ).input as { messages: unknown[] }
    expect(messages.messages.slice(2).filter((_, i) => i !== 1)).toEqual([
      { role: 'tool', content: 'first', name: 'f', toolCallId: '' },
      { role: 'tool', content: 'second', name: 'f', toolCallId: 'c9' },
      { role: 'tool', content: 'orphan', name: 'g', toolCallId: '' },
    ])
    expect(invalid({ messages: [{ role: 'function', content: 'x' }] }).param).toBe('messages[0].name')
    expect((decode(loose({ messages: [{ role: 'function', name: 'f', content: null }] })).input as { messages: unknown[] }).messages).toEqual([
      { role: 'tool', content: '', name: 'f', toolCallId: '' },
    ])
    expect(invalid({ messages: [{ role: 'function', name: 'f', content: [{ type: 'thinking', thinking: 'x' }] }] }).param).toBe('messages[0].content[0].type')
  })

  it('bare strings in a content array are text parts', () => {
    const decoded = decode(loose({ messages: [{ role: 'user', content: ['a', { type: 'text', text: 'b' }, 'c'] }] }))
    expect(decoded.input).toEqual({ kind: 'chat', messages: [{ role: 'user', content: 'a\nb\nc' }] })
    expect(Value.Check(ChatCompletionRequestSchema, { model: 'm', messages: [{ role: 'user', content: ['a', { type: 'text', text: 'b' }] }] })).toBe(true)
    expect(Value.Check(ChatCompletionRequestSchema, { model: 'm', messages: [{ role: 'user', content: [3] }] })).toBe(false)
  })

  it('thinking parts on an assistant message are its reasoning history, like reasoning_content', () => {
    const thought = [{ type: 'thinking', thinking: 'hmm' }, { type: 'thinking', thinking: 'ok', closed: true }, { type: 'text', text: 'A.' }]
    const decoded = decode(loose({ messages: [USER[0], { role: 'assistant', content: thought }, USER[0]] }))
    expect((decoded.input as { messages: unknown[] }).messages[1]).toEqual({ role: 'assistant', content: 'A.', reasoning: 'hmm\nok' })
    const same = decode(loose({ messages: [USER[0], { role: 'assistant', content: 'A.', reasoning_content: 'hmm\nok' }, USER[0]] }))
    expect(same.input).toEqual(decoded.input)
    // Only assistants think; both spellings at once, an unclosed thought or a non-string one are refused by name.
    expect(invalid({ messages: [{ role: 'user', content: [{ type: 'thinking', thinking: 'x' }] }] }).param).toBe('messages[0].content[0].type')
    const both = invalid({ messages: [USER[0], { role: 'assistant', content: thought, reasoning_content: 'x' }] })
    expect(both.param).toBe('messages[1].reasoning_content')
    expect(invalid({ messages: [USER[0], { role: 'assistant', content: [{ type: 'thinking', thinking: 'x', closed: false }] }] }).param).toBe(
      'messages[1].content[0].closed',
    )
    expect(invalid({ messages: [USER[0], { role: 'assistant', content: [{ type: 'thinking' }] }] }).param).toBe('messages[1].content[0].thinking')
  })

  it('an empty tools list is refused by the schema, as at OpenAI (absent means no tools)', () => {
    expect(Value.Check(ChatCompletionRequestSchema, { model: 'm', messages: USER, tools: [] })).toBe(false)
    expect(Value.Check(ChatCompletionRequestSchema, { model: 'm', messages: USER, tools: [{ type: 'function', function: { name: 'f' } }] })).toBe(true)
  })
})

/** decodeChatRequest with the default LIMITS. */
const decode = (extra: Partial<ChatCompletionRequest> = {}) => decodeChatRequest(request(extra), 'm', LIMITS)

describe('decodeChatRequest: parameters still refused unless at their no-op value', () => {
  it.each<[string, unknown]>([
    ['use_beam_search', true],
    ['length_penalty', 2],
    ['length_penalty', 0.5],
    ['early_stopping', true],
    ['top_p_min', 0.5],
    ['bad_words', ['darn']],
    ['bad', ['darn']],
    ['prompt_logprobs', 1],
    ['logits_processors', ['my.module:Processor']],
    ['return_tokens_as_token_ids', true],
    ['return_token_ids', true],
    ['modalities', ['text', 'audio']],
    ['modalities', ['audio']],
    ['audio', { voice: 'alloy', format: 'wav' }],
    ['web_search_options', {}],
  ])('%s: %j is refused with 400 naming the param', (param, value) => {
    const body = { messages: USER, [param]: value }
    // The schema accepts it: the refusal is the codec's, not a type error.
    expect(Value.Check(ChatCompletionRequestSchema, body)).toBe(true)
    const error = invalid(body)
    expect(error.status).toBe(400)
    expect(error.type).toBe('invalid_request_error')
    expect(error.param).toBe(param)
    expect(error.message).toContain(param)
  })

  it.each<[string, unknown]>([
    ['structural_tag', 'x'],
    ['structural_tag', { type: 'structural_tag', structures: [], triggers: [] }],
    ['whitespace_pattern', '[ ]?'],
    ['disable_fallback', true],
    ['disable_any_whitespace', true],
    ['disable_additional_properties', true],
    ['_backend', 'xgrammar'],
    ['_backend_was_auto', true],
  ])('structured_outputs.%s: %j is refused with 400 naming it', (field, value) => {
    const body = { messages: USER, structured_outputs: { [field]: value } }
    expect(Value.Check(ChatCompletionRequestSchema, body)).toBe(true)
    const error = invalid(body)
    expect(error.param).toBe(`structured_outputs.${field}`)
    expect(error.message).toContain(`structured_outputs.${field}`)
  })

  it('structured_outputs options at their defaults pass beside a constraint, and alone', () => {
    const defaults = {
      structural_tag: null,
      whitespace_pattern: null,
      disable_fallback: false,
      disable_any_whitespace: false,
      disable_additional_properties: false,
      _backend: null,
      _backend_was_auto: false,
    }
    expect(decode({ structured_outputs: { choice: ['a', 'b'], ...defaults } }).grammar?.param).toBe('structured_outputs.choice')
    expect(decode({ structured_outputs: defaults }).grammar).toBeNull()
  })

  it('their no-op values pass, all at once', () => {
    const body = request({
      use_beam_search: false,
      length_penalty: 1,
      early_stopping: false,
      top_p_min: 0,
      add_special_tokens: false,
      bad_words: [],
      bad: [],
      prompt_logprobs: 0,
      logits_processors: [],
      return_tokens_as_token_ids: false,
      echo: false,
      response_format: { type: 'text' },
      tools: [],
      tool_choice: 'none',
      functions: [],
      function_call: 'none',
      add_generation_prompt: true,
      continue_final_message: false,
      chat_template_kwargs: {},
      chat_template_args: {},
      modalities: ['text'],
    })
    expect(() => decodeChatRequest(body, 'm', LIMITS)).not.toThrow()
    expect(() => decode({ tool_choice: 'auto', function_call: 'auto', modalities: [] })).not.toThrow()
  })

  it('null means not set and passes, for every refused parameter', () => {
    const body = request({
      use_beam_search: null,
      length_penalty: null,
      early_stopping: null,
      top_p_min: null,
      add_special_tokens: null,
      bad_words: null,
      bad: null,
      prompt_logprobs: null,
      logits_processors: null,
      return_tokens_as_token_ids: null,
      echo: null,
      response_format: null,
      tools: null,
      tool_choice: null,
      functions: null,
      function_call: null,
      add_generation_prompt: null,
      continue_final_message: null,
      chat_template: null,
      chat_template_kwargs: null,
      chat_template_args: null,
      modalities: null,
      audio: null,
      web_search_options: null,
    })
    expect(() => decodeChatRequest(body, 'm', LIMITS)).not.toThrow()
  })

  it('parameters that are now supported are accepted at non-default values', () => {
    const body = request({
      n: 2,
      best_of: 2,
      logprobs: true,
      top_logprobs: 3,
      frequency_penalty: 0.5,
      presence_penalty: -1,
      repetition_penalty: 1.1,
      logit_bias: { '50256': -100 },
      top_k: 40,
      min_p: 0.05,
      stop_token_ids: [2],
      include_stop_str_in_output: true,
      min_tokens: 3,
      ignore_eos: true,
      skip_special_tokens: false,
      spaces_between_special_tokens: false,
      bad_token_ids: [5],
      allowed_token_ids: [6, 7],
      truncate_prompt_tokens: 100,
      add_special_tokens: true,
    })
    expect(() => decodeChatRequest(body, 'm', LIMITS)).not.toThrow()
  })
})

describe('decodeChatRequest: n, best_of, logprobs', () => {
  it('n defaults to 1 (null too) and passes through up to limits.maxChoices', () => {
    expect(decode().n).toBe(1)
    expect(decode({ n: null }).n).toBe(1)
    expect(decode({ n: 3 }).n).toBe(3)
    expect(decode({ n: 8 }).n).toBe(8)
  })

  it('n above limits.maxChoices is a 400 naming n and the limit', () => {
    const error = invalid({ messages: USER, n: 9 })
    expect(error.status).toBe(400)
    expect(error.param).toBe('n')
    expect(error.message).toContain('8')
    // The limit is the caller's, not a constant.
    expect(() => decodeChatRequest(request({ n: 2 }), 'm', { maxChoices: 1, defaults: {}, trustRequestChatTemplate: false })).toThrow(InvalidRequestError)
    expect(decodeChatRequest(request({ n: 20 }), 'm', { maxChoices: 20, defaults: {}, trustRequestChatTemplate: false }).n).toBe(20)
  })

  it('best_of must equal n; equal (or null) passes', () => {
    expect(invalid({ messages: USER, best_of: 2 }).param).toBe('best_of')
    expect(invalid({ messages: USER, n: 3, best_of: 4 }).param).toBe('best_of')
    expect(invalid({ messages: USER, n: 3, best_of: 1 }).param).toBe('best_of')
    expect(decode({ best_of: 1 }).n).toBe(1)
    expect(decode({ n: 3, best_of: 3 }).n).toBe(3)
    expect(decode({ n: 3, best_of: null }).n).toBe(3)
  })

  it('top_logprobs without logprobs: true is a 400 naming top_logprobs', () => {
    expect(invalid({ messages: USER, top_logprobs: 3 }).param).toBe('top_logprobs')
    expect(invalid({ messages: USER, logprobs: false, top_logprobs: 3 }).param).toBe('top_logprobs')
    expect(invalid({ messages: USER, logprobs: null, top_logprobs: 0 }).param).toBe('top_logprobs')
  })

  it('logprobs: true → {top: top_logprobs ?? 0}; otherwise null', () => {
    expect(decode().logprobs).toBeNull()
    expect(decode({ logprobs: false }).logprobs).toBeNull()
    expect(decode({ logprobs: null, top_logprobs: null }).logprobs).toBeNull()
    expect(decode({ logprobs: true }).logprobs).toEqual({ top: 0 })
    expect(decode({ logprobs: true, top_logprobs: null }).logprobs).toEqual({ top: 0 })
    expect(decode({ logprobs: true, top_logprobs: 5 }).logprobs).toEqual({ top: 5 })
    expect(decode({ logprobs: true, top_logprobs: 20 }).logprobs).toEqual({ top: 20 })
  })
})

describe('decodeChatRequest: logit_bias', () => {
  it.each(['abc', '-1', '1.5', '', ' 1', '1e3', '0x10'])('key %j is a 400 naming logit_bias', (key) => {
    const error = invalid({ messages: USER, logit_bias: { '5': 1, [key]: -100 } })
    expect(error.status).toBe(400)
    expect(error.param).toBe('logit_bias')
  })

  it('integer-string keys become a Map with numeric keys; values pass through', () => {
    const bias = decode({ logit_bias: { '0': 100, '50256': -100, '7': 2.5 } }).sampling.logitBias
    expect(bias).toBeInstanceOf(Map)
    expect(bias).toEqual(
      new Map([
        [0, 100],
        [50256, -100],
        [7, 2.5],
      ]),
    )
    for (const key of bias.keys()) expect(typeof key).toBe('number')
    expect(bias.get(50256)).toBe(-100)
    expect(bias.has('50256' as unknown as number)).toBe(false)
  })

  it('absent, null and {} are an empty Map', () => {
    for (const logit_bias of [undefined, null, {}]) {
      const bias = decode({ logit_bias }).sampling.logitBias
      expect(bias).toBeInstanceOf(Map)
      expect(bias.size).toBe(0)
    }
  })
})

describe('decodeChatRequest: model defaults', () => {
  it('a value absent from the request comes from the model config, then from OpenAI; the request wins', () => {
    const limits = { maxChoices: 8, defaults: { temperature: 0.2, topP: 0.9, topK: 20, minP: 0.05, maxTokens: 77 }, trustRequestChatTemplate: false }
    const fromModel = decodeChatRequest(request(), 'm', limits)
    expect(fromModel.sampling).toMatchObject({ temperature: 0.2, topP: 0.9, topK: 20, minP: 0.05 })
    expect(fromModel.maxTokens).toBe(77)
    const fromRequest = decodeChatRequest(request({ temperature: 1.5, top_p: 0.5, top_k: 0, min_p: 0, max_completion_tokens: 5 }), 'm', limits)
    expect(fromRequest.sampling).toMatchObject({ temperature: 1.5, topP: 0.5, topK: null, minP: 0 })
    expect(fromRequest.maxTokens).toBe(5)
  })
})

describe('decodeChatRequest: response_format', () => {
  it('maps each variant to a grammar, with the schema kept for the final check', () => {
    expect(decodeChatRequest(request({ response_format: { type: 'text' } }), 'm', LIMITS).grammar).toBeNull()
    const object = decodeChatRequest(request({ response_format: { type: 'json_object' } }), 'm', LIMITS).grammar!
    expect(object.gbnf).toMatch(/^root ::= object/)
    expect(object.schema).toEqual({ type: 'object' })
    expect(decodeChatRequest(request({ response_format: { type: 'json' } }), 'm', LIMITS).grammar!.gbnf).toBe(object.gbnf)
    const schema = { type: 'object', properties: { a: { type: 'integer' } }, required: ['a'] }
    const typed = decodeChatRequest(request({ response_format: { type: 'json_schema', json_schema: { name: 's', schema } } }), 'm', LIMITS).grammar!
    expect(typed.schema).toEqual(schema)
    expect(typed.param).toBe('response_format.json_schema.schema')
    const gbnf = decodeChatRequest(request({ response_format: { type: 'grammar', grammar: 'root ::= "x"' } }), 'm', LIMITS).grammar!
    expect(gbnf).toEqual({ gbnf: 'root ::= "x"', schema: null, param: 'response_format.grammar' })
  })

  it('refuses an unenforceable keyword with the schema as param', () => {
    const decode = () =>
      decodeChatRequest(request({ response_format: { type: 'json_schema', json_schema: { name: 's', schema: { type: 'string', pattern: '(?=x)' } } } }), 'm', LIMITS)
    expect(decode).toThrow(InvalidRequestError)
    expect(decode).toThrow(/pattern/)
  })
})

describe('decodeChatRequest: sampling and limits', () => {
  it('a bare request decodes to every default', () => {
    expect(decode()).toEqual({
      model: 'm',
      input: { kind: 'chat', messages: [{ role: 'user', content: 'hi' }] },
      sampling: {
        temperature: 1,
        topP: 1,
        topK: null,
        minP: 0,
        seed: expect.any(Number),
        frequencyPenalty: 0,
        presencePenalty: 0,
        repetitionPenalty: 1,
        logitBias: new Map(),
        bannedTokens: [],
        allowedTokens: null,
      },
      maxTokens: null,
      stop: { strings: [], tokenIds: [], includeStopString: false, minTokens: 0, ignoreEos: false },
      n: 1,
      logprobs: null,
      skipSpecialTokens: true,
      truncatePromptTokens: null,
      priority: 0,
      cacheSalt: null,
      grammar: null,
      promptLogprobs: null,
      echo: false,
    })
  })

  it('every optional parameter sent as null decodes to the same defaults', () => {
    const nulls = Object.fromEntries(
      Object.keys(ChatCompletionRequestSchema.properties)
        .filter((key) => key !== 'messages')
        .map((key) => [key, null]),
    )
    const decoded = decodeChatRequest(request(nulls as Partial<ChatCompletionRequest>), 'm', LIMITS)
    expect(decoded).toEqual({ ...decode(), sampling: { ...decode().sampling, seed: expect.any(Number) } })
  })

  it('temperature and top_p default to 1; given values pass through, 0 included', () => {
    expect(decode().sampling).toMatchObject({ temperature: 1, topP: 1 })
    expect(decode({ temperature: null, top_p: null }).sampling).toMatchObject({ temperature: 1, topP: 1 })
    expect(decode({ temperature: 0, top_p: 0.5 }).sampling).toMatchObject({ temperature: 0, topP: 0.5 })
    expect(decode({ temperature: 4 }).sampling).toMatchObject({ temperature: 4, topP: 1 })
  })

  it('top_p 0 is greedy: sampled exactly as temperature 0, whatever the temperature', () => {
    const greedy = decode({ temperature: 0, seed: 7 }).sampling
    expect(decode({ top_p: 0, seed: 7 }).sampling).toEqual(greedy)
    expect(decode({ top_p: 0, temperature: 1.5, seed: 7 }).sampling).toEqual(greedy)
  })

  it.each<[string, unknown, boolean]>([
    ['temperature', 4, true],
    ['temperature', 4.01, false],
    ['temperature', -0.1, false],
    ['top_p', 0, true],
    ['top_p', 1, true],
    ['top_p', 1.01, false],
    ['top_p', -0.01, false],
    ['repetition_penalty', 0.01, true],
    ['repetition_penalty', 1000, true],
    ['repetition_penalty', 0, false],
    ['truncate_prompt_tokens', -1, true],
    ['truncate_prompt_tokens', -2, false],
  ])('schema: %s %j valid = %s', (param, value, valid) => {
    expect(Value.Check(ChatCompletionRequestSchema, { messages: USER, [param]: value })).toBe(valid)
  })

  it.each<[number | null | undefined, number | null]>([
    [undefined, null],
    [null, null],
    [0, null],
    [-1, null],
    [1, 1],
    [5, 5],
    [40, 40],
  ])('top_k %s → topK %s', (top_k, expected) => {
    expect(decode({ top_k }).sampling.topK).toBe(expected)
  })

  it('min_p and the penalties pass through; defaults are 0, 0, 0 and repetition 1', () => {
    expect(decode().sampling).toMatchObject({ minP: 0, frequencyPenalty: 0, presencePenalty: 0, repetitionPenalty: 1 })
    expect(
      decode({ min_p: 0.05, frequency_penalty: 0.5, presence_penalty: -1.5, repetition_penalty: 1.2 }).sampling,
    ).toMatchObject({ minP: 0.05, frequencyPenalty: 0.5, presencePenalty: -1.5, repetitionPenalty: 1.2 })
    // Negative and zero values are not mistaken for "unset".
    expect(decode({ frequency_penalty: -2, presence_penalty: 0 }).sampling).toMatchObject({ frequencyPenalty: -2, presencePenalty: 0 })
  })

  it('bad_token_ids → bannedTokens (default []); allowed_token_ids → allowedTokens (default null)', () => {
    expect(decode().sampling).toMatchObject({ bannedTokens: [], allowedTokens: null })
    expect(decode({ bad_token_ids: [3, 9], allowed_token_ids: [1, 2, 4] }).sampling).toMatchObject({
      bannedTokens: [3, 9],
      allowedTokens: [1, 2, 4],
    })
    expect(decode({ bad_token_ids: null, allowed_token_ids: null }).sampling).toMatchObject({ bannedTokens: [], allowedTokens: null })
  })

  it('max_completion_tokens wins over max_tokens; either alone is used; none is null', () => {
    expect(decode({ max_tokens: 10, max_completion_tokens: 20 }).maxTokens).toBe(20)
    expect(decode({ max_tokens: 30, max_completion_tokens: 5 }).maxTokens).toBe(5)
    expect(decode({ max_tokens: 10 }).maxTokens).toBe(10)
    expect(decode({ max_tokens: 10, max_completion_tokens: null }).maxTokens).toBe(10)
    expect(decode({ max_completion_tokens: 7 }).maxTokens).toBe(7)
    expect(decode().maxTokens).toBeNull()
  })

  it('stop: a string becomes a one-item list, a list is kept, absent is empty', () => {
    expect(decode({ stop: 'END' }).stop.strings).toEqual(['END'])
    expect(decode({ stop: ['a', 'b'] }).stop.strings).toEqual(['a', 'b'])
    expect(decode({ stop: null }).stop.strings).toEqual([])
    expect(decode().stop.strings).toEqual([])
  })

  it('stop_token_ids, include_stop_str_in_output, min_tokens and ignore_eos map into stop', () => {
    expect(decode({ stop: 'X', stop_token_ids: [2, 32000], include_stop_str_in_output: true, min_tokens: 4, ignore_eos: true }).stop).toEqual({
      strings: ['X'],
      tokenIds: [2, 32000],
      includeStopString: true,
      minTokens: 4,
      ignoreEos: true,
    })
    expect(decode({ stop_token_ids: null, include_stop_str_in_output: false, min_tokens: 0, ignore_eos: false }).stop).toEqual({
      strings: [],
      tokenIds: [],
      includeStopString: false,
      minTokens: 0,
      ignoreEos: false,
    })
  })

  it('skip_special_tokens defaults to true; false is kept', () => {
    expect(decode().skipSpecialTokens).toBe(true)
    expect(decode({ skip_special_tokens: null }).skipSpecialTokens).toBe(true)
    expect(decode({ skip_special_tokens: true }).skipSpecialTokens).toBe(true)
    expect(decode({ skip_special_tokens: false }).skipSpecialTokens).toBe(false)
  })

  it('truncate_prompt_tokens passes through, -1 as fit; default null; 0 is a 400 naming it', () => {
    expect(decode().truncatePromptTokens).toBeNull()
    expect(decode({ truncate_prompt_tokens: null }).truncatePromptTokens).toBeNull()
    expect(decode({ truncate_prompt_tokens: 128 }).truncatePromptTokens).toBe(128)
    expect(decode({ truncate_prompt_tokens: -1 }).truncatePromptTokens).toBe('fit')
    expect(invalid({ messages: USER, truncate_prompt_tokens: 0 }).param).toBe('truncate_prompt_tokens')
  })

  it('seed absent: a uint32 that differs across calls', () => {
    const seeds = Array.from({ length: 8 }, () => decode().sampling.seed)
    for (const seed of seeds) {
      expect(Number.isInteger(seed)).toBe(true)
      expect(seed).toBeGreaterThanOrEqual(0)
      expect(seed).toBeLessThan(2 ** 32)
    }
    expect(new Set(seeds).size).toBeGreaterThan(1)
    expect(Number.isInteger(decode({ seed: null }).sampling.seed)).toBe(true)
  })

  it("seed absent: the server's --seed when set; the request's own seed wins", () => {
    const limits = { ...LIMITS, defaults: { ...LIMITS.defaults, seed: 1234 } }
    expect(decodeChatRequest(request(), 'm', limits).sampling.seed).toBe(1234)
    expect(decodeChatRequest(request({ seed: null }), 'm', limits).sampling.seed).toBe(1234)
    expect(decodeChatRequest(request({ seed: 7 }), 'm', limits).sampling.seed).toBe(7)
    const unseeded = new Set(Array.from({ length: 8 }, () => decodeChatRequest(request(), 'm', LIMITS).sampling.seed))
    expect(unseeded.size).toBeGreaterThan(1)
  })

  it.each([
    [0, 0],
    [42, 42],
    [2 ** 32 - 1, 2 ** 32 - 1],
    [2 ** 32, 0],
    [-1, 2 ** 32 - 1],
    [-2, 2 ** 32 - 2],
    [2 ** 40 + 5, 5],
    [-(2 ** 40) - 1, 2 ** 32 - 1],
    [Number.MAX_SAFE_INTEGER, 2 ** 32 - 1],
  ])('seed %d maps deterministically to %d', (seed, expected) => {
    const first = decode({ seed }).sampling.seed
    const second = decode({ seed }).sampling.seed
    expect(first).toBe(expected)
    expect(second).toBe(first)
  })
})

describe('ignoredParams', () => {
  it('lists only unknown top-level keys, in body order', () => {
    const body = {
      model: 'm',
      messages: USER,
      foo: 1,
      n: 2,
      logit_bias: {},
      spaces_between_special_tokens: true,
      use_beam_search: false,
      x_custom: null,
      stream_options: { include_usage: true, extra: 1 },
    }
    expect(ignoredParams(body, ChatCompletionRequestSchema)).toEqual(['foo', 'x_custom'])
  })

  it('a body of known keys only has none, however many the schema knows', () => {
    expect(ignoredParams({ messages: USER }, ChatCompletionRequestSchema)).toEqual([])
    const everyKnown = Object.fromEntries(Object.keys(ChatCompletionRequestSchema.properties).map((key) => [key, null]))
    expect(ignoredParams(everyKnown, ChatCompletionRequestSchema)).toEqual([])
  })

  it('nested unknown keys are not listed; near-miss spellings are', () => {
    expect(ignoredParams({ messages: [{ role: 'user', content: 'x', extra: 1 }] }, ChatCompletionRequestSchema)).toEqual([])
    expect(ignoredParams({ messages: USER, topK: 5, max_token: 3, Temperature: 1 }, ChatCompletionRequestSchema)).toEqual(['topK', 'max_token', 'Temperature'])
  })
})

const META: ResponseMeta = { id: 'chatcmpl-abc', created: 1_700_000_000, model: 'tiny', systemFingerprint: 'fp_test' }
const USAGE = { promptTokens: 11, completionTokens: 4, cachedTokens: 3 }

const EVENTS: GenerationEvent[] = [
  { type: 'started', promptTokens: 11, cachedTokens: 3, choices: 1 },
  { type: 'text', choice: 0, text: 'Hel', tokens: 1 },
  { type: 'text', choice: 0, text: 'lo', tokens: 3 },
  { type: 'finished', choice: 0, reason: 'stop', stopReason: '<|end|>', usage: USAGE },
]

/**
 * Two choices, interleaved: choice 1 finishes first (length), choice 0 last (stop token id 7).
 * Each `finished` carries the shared prompt and its own completion tokens.
 */
const N2_EVENTS: GenerationEvent[] = [
  { type: 'started', promptTokens: 11, cachedTokens: 3, choices: 2 },
  { type: 'text', choice: 1, text: 'B1', tokens: 1 },
  { type: 'text', choice: 0, text: 'A1', tokens: 2 },
  { type: 'text', choice: 1, text: 'B2', tokens: 1 },
  { type: 'finished', choice: 1, reason: 'length', stopReason: null, usage: { promptTokens: 11, completionTokens: 2, cachedTokens: 3 } },
  { type: 'text', choice: 0, text: 'A2', tokens: 3 },
  { type: 'finished', choice: 0, reason: 'stop', stopReason: 7, usage: { promptTokens: 11, completionTokens: 5, cachedTokens: 3 } },
]

const N2_USAGE = {
  prompt_tokens: 11,
  completion_tokens: 7,
  total_tokens: 18,
  prompt_tokens_details: { cached_tokens: 3, audio_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
}

const LP_HEL: TokenLogprob = {
  token: 'Hel',
  bytes: [72, 101, 108],
  logprob: -0.25,
  top: [
    { token: 'Hel', bytes: [72, 101, 108], logprob: -0.25 },
    { token: 'Hi', bytes: [72, 105], logprob: -1.5 },
  ],
}
const LP_LO: TokenLogprob = { token: 'lo', bytes: [108, 111], logprob: -0.01, top: [] }

const LP_EVENTS: GenerationEvent[] = [
  { type: 'started', promptTokens: 11, cachedTokens: 3, choices: 1 },
  { type: 'text', choice: 0, text: 'Hel', tokens: 1, logprobs: [LP_HEL] },
  { type: 'text', choice: 0, text: 'lo', tokens: 1, logprobs: [LP_LO] },
  { type: 'finished', choice: 0, reason: 'stop', stopReason: null, usage: USAGE },
]

const ENCODED_LP_HEL = {
  token: 'Hel',
  logprob: -0.25,
  bytes: [72, 101, 108],
  top_logprobs: [
    { token: 'Hel', logprob: -0.25, bytes: [72, 101, 108] },
    { token: 'Hi', logprob: -1.5, bytes: [72, 105] },
  ],
}
const ENCODED_LP_LO = { token: 'lo', logprob: -0.01, bytes: [108, 111], top_logprobs: [] }

function encodeAll(includeUsage: boolean, events: GenerationEvent[] = EVENTS): ChatCompletionChunk[] {
  const encoder = new ChatChunkEncoder(META, includeUsage)
  return events.flatMap((e) => encoder.push(e))
}

/** The text of choice `index`, reassembled from chunks. */
const textOf = (chunks: ChatCompletionChunk[], index: number) =>
  chunks
    .flatMap((c) => c.choices)
    .filter((c) => c.index === index)
    .map((c) => c.delta.content ?? '')
    .join('')

describe('ChatChunkEncoder', () => {
  for (const includeUsage of [false, true]) {
    it(`includeUsage=${includeUsage}: every chunk shares id, created, model and system_fingerprint and matches the schema`, () => {
      for (const events of [EVENTS, N2_EVENTS, LP_EVENTS]) {
        for (const chunk of encodeAll(includeUsage, events)) {
          expect(chunk).toMatchObject({
            id: 'chatcmpl-abc',
            object: 'chat.completion.chunk',
            created: 1_700_000_000,
            model: 'tiny',
            system_fingerprint: 'fp_test',
          })
          expect(Value.Check(ChatCompletionChunkSchema, chunk)).toBe(true)
        }
      }
    })

    it(`includeUsage=${includeUsage}: first chunk is the assistant role with empty content, text chunks carry only content`, () => {
      const chunks = encodeAll(includeUsage)
      expect(chunks[0]?.choices).toEqual([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }])
      expect(chunks[1]?.choices).toEqual([{ index: 0, delta: { content: 'Hel' }, logprobs: null, finish_reason: null }])
      expect(chunks[2]?.choices).toEqual([{ index: 0, delta: { content: 'lo' }, logprobs: null, finish_reason: null }])
      expect(textOf(chunks, 0)).toBe('Hello')
    })

    it(`includeUsage=${includeUsage}: the finishing chunk has an empty delta, finish_reason and stop_reason`, () => {
      const finishing = encodeAll(includeUsage).find((c) => c.choices[0]?.finish_reason != null)
      expect(finishing?.choices).toEqual([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop', stop_reason: '<|end|>' }])
    })
  }

  it('includeUsage=false: usage rides on the finishing chunk, only there, and no choices: [] chunk is sent', () => {
    const chunks = encodeAll(false)
    expect(chunks).toHaveLength(4)
    for (const chunk of chunks.slice(0, 3)) expect(chunk).not.toHaveProperty('usage')
    const last = chunks[3]
    expect(last?.choices[0]?.finish_reason).toBe('stop')
    expect(last?.usage).toEqual({
      prompt_tokens: 11,
      completion_tokens: 4,
      total_tokens: 15,
      prompt_tokens_details: { cached_tokens: 3, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    })
    for (const chunk of chunks) expect(chunk.choices).toHaveLength(1)
  })

  it('includeUsage=true: every chunk has usage null except one trailing choices: [] chunk with usage', () => {
    const chunks = encodeAll(true)
    expect(chunks).toHaveLength(5)
    for (const chunk of chunks.slice(0, 4)) {
      expect(chunk).toHaveProperty('usage', null)
      expect(chunk.choices).toHaveLength(1)
    }
    expect(chunks[3]?.choices[0]?.finish_reason).toBe('stop')
    const trailing = chunks[4]
    expect(trailing?.choices).toEqual([])
    expect(trailing?.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 4, total_tokens: 15 })
    expect(chunks.filter((c) => c.choices.length === 0)).toHaveLength(1)
    expect(chunks.filter((c) => c.usage != null)).toHaveLength(1)
  })

  it('a length finish has a null stop_reason', () => {
    const chunks = encodeAll(false, [
      { type: 'started', promptTokens: 1, cachedTokens: 0, choices: 1 },
      { type: 'finished', choice: 0, reason: 'length', stopReason: null, usage: { promptTokens: 1, completionTokens: 0, cachedTokens: 0 } },
    ])
    expect(chunks.at(-1)?.choices[0]).toMatchObject({ finish_reason: 'length', stop_reason: null })
    expect(chunks.at(-1)?.usage).toMatchObject({ total_tokens: 1, prompt_tokens_details: { cached_tokens: 0 } })
  })

  it('chunks are independent objects (mutating one does not change the next)', () => {
    const encoder = new ChatChunkEncoder(META, true)
    const [first] = encoder.push({ type: 'text', choice: 0, text: 'a', tokens: 1 })
    first!.choices[0]!.delta.content = 'changed'
    first!.id = 'changed'
    const [second] = encoder.push({ type: 'text', choice: 0, text: 'b', tokens: 1 })
    expect(second?.id).toBe('chatcmpl-abc')
    expect(second?.choices[0]?.delta).toEqual({ content: 'b' })
  })

  it('text chunks carry encoded logprobs when the event has them; role and finishing chunks have null', () => {
    const chunks = encodeAll(false, LP_EVENTS)
    expect(chunks).toHaveLength(4)
    expect(chunks[0]?.choices[0]?.logprobs).toBeNull()
    expect(chunks[1]?.choices).toEqual([
      { index: 0, delta: { content: 'Hel' }, logprobs: { content: [ENCODED_LP_HEL], refusal: null }, finish_reason: null },
    ])
    expect(chunks[2]?.choices).toEqual([
      { index: 0, delta: { content: 'lo' }, logprobs: { content: [ENCODED_LP_LO], refusal: null }, finish_reason: null },
    ])
    expect(chunks[3]?.choices[0]).toMatchObject({ logprobs: null, finish_reason: 'stop' })
  })

  it('a text event with several tokens encodes every one in order', () => {
    const [chunk] = new ChatChunkEncoder(META, false).push({ type: 'text', choice: 0, text: 'Hello', tokens: 2, logprobs: [LP_HEL, LP_LO] })
    expect(chunk?.choices[0]?.logprobs).toEqual({ content: [ENCODED_LP_HEL, ENCODED_LP_LO], refusal: null })
  })

  describe('n = 2', () => {
    for (const includeUsage of [false, true]) {
      it(`includeUsage=${includeUsage}: one role chunk per choice at started, then text and finishing chunks for their index`, () => {
        const chunks = encodeAll(includeUsage, N2_EVENTS)
        const encoder = new ChatChunkEncoder(META, includeUsage)
        const started = encoder.push(N2_EVENTS[0]!)
        expect(started.map((c) => c.choices)).toEqual([
          [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
          [{ index: 1, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
        ])
        // Every chunk but a usage trailer holds exactly one choice.
        for (const chunk of chunks) expect(chunk.choices.length).toBe(chunk.usage != null && includeUsage ? 0 : 1)
        const order = chunks.filter((c) => c.choices.length > 0).map((c) => [c.choices[0]!.index, c.choices[0]!.delta.content ?? null])
        expect(order).toEqual([
          [0, ''],
          [1, ''],
          [1, 'B1'],
          [0, 'A1'],
          [1, 'B2'],
          [1, null],
          [0, 'A2'],
          [0, null],
        ])
        expect(textOf(chunks, 0)).toBe('A1A2')
        expect(textOf(chunks, 1)).toBe('B1B2')
        const finishing = chunks.flatMap((c) => c.choices).filter((c) => c.finish_reason != null)
        expect(finishing).toEqual([
          { index: 1, delta: {}, logprobs: null, finish_reason: 'length', stop_reason: null },
          { index: 0, delta: {}, logprobs: null, finish_reason: 'stop', stop_reason: 7 },
        ])
      })
    }

    it('includeUsage=false: usage only on the last finishing chunk, totalling the prompt once and both completions', () => {
      const encoder = new ChatChunkEncoder(META, false)
      const perEvent = N2_EVENTS.map((e) => encoder.push(e))
      // The first choice to finish gets no usage: the other is still running.
      const firstFinish = perEvent[4]!
      expect(firstFinish).toHaveLength(1)
      expect(firstFinish[0]).not.toHaveProperty('usage')
      const lastFinish = perEvent[6]!
      expect(lastFinish).toHaveLength(1)
      expect(lastFinish[0]?.choices[0]).toMatchObject({ index: 0, finish_reason: 'stop' })
      expect(lastFinish[0]?.usage).toEqual(N2_USAGE)
      const all = perEvent.flat()
      expect(all.filter((c) => 'usage' in c)).toHaveLength(1)
      expect(all.filter((c) => c.choices.length === 0)).toHaveLength(0)
    })

    it('includeUsage=true: a single trailing choices: [] chunk with the totals, after both finished', () => {
      const encoder = new ChatChunkEncoder(META, true)
      const perEvent = N2_EVENTS.map((e) => encoder.push(e))
      expect(perEvent[4]).toHaveLength(1)
      expect(perEvent[4]![0]?.usage).toBeNull()
      expect(perEvent[6]).toHaveLength(2)
      expect(perEvent[6]![0]?.usage).toBeNull()
      expect(perEvent[6]![1]).toMatchObject({ choices: [], usage: N2_USAGE })
      const all = perEvent.flat()
      expect(all.filter((c) => c.usage != null)).toHaveLength(1)
      expect(all.at(-1)?.usage).toEqual(N2_USAGE)
    })

    it('logprobs stay with their choice', () => {
      const chunks = encodeAll(false, [
        { type: 'started', promptTokens: 2, cachedTokens: 0, choices: 2 },
        { type: 'text', choice: 1, text: 'lo', tokens: 1, logprobs: [LP_LO] },
        { type: 'text', choice: 0, text: 'Hel', tokens: 1, logprobs: [LP_HEL] },
      ])
      expect(chunks[2]?.choices[0]).toMatchObject({ index: 1, logprobs: { content: [ENCODED_LP_LO], refusal: null } })
      expect(chunks[3]?.choices[0]).toMatchObject({ index: 0, logprobs: { content: [ENCODED_LP_HEL], refusal: null } })
    })
  })
})

describe('UsageTotals', () => {
  it('takes prompt and cached tokens once and sums completion tokens', () => {
    const totals = new UsageTotals()
    expect(totals.finishedChoices).toBe(0)
    totals.add({ promptTokens: 10, completionTokens: 2, cachedTokens: 4 })
    expect(totals.total()).toEqual({ promptTokens: 10, completionTokens: 2, cachedTokens: 4 })
    totals.add({ promptTokens: 10, completionTokens: 3, cachedTokens: 4 })
    totals.add({ promptTokens: 10, completionTokens: 0, cachedTokens: 4 })
    expect(totals.finishedChoices).toBe(3)
    expect(totals.total()).toEqual({ promptTokens: 10, completionTokens: 5, cachedTokens: 4 })
  })
})

describe('encodeUsage / encodeChatCompletion / newResponseMeta', () => {
  it('total_tokens is prompt + completion; cached_tokens is always present, 0 included', () => {
    expect(encodeUsage({ promptTokens: 100, completionTokens: 23, cachedTokens: 64 })).toEqual({
      prompt_tokens: 100,
      completion_tokens: 23,
      total_tokens: 123,
      prompt_tokens_details: { cached_tokens: 64, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    })
    expect(encodeUsage({ promptTokens: 5, completionTokens: 0, cachedTokens: 0 }).prompt_tokens_details).toEqual({ cached_tokens: 0, audio_tokens: 0 })
  })

  it('encodeChatCompletion builds the non-streamed body from the folded events', () => {
    const body = encodeChatCompletion(
      { choices: [{ text: 'Hello', finishReason: 'length', stopReason: null, logprobs: null }], usage: USAGE },
      META,
    )
    expect(body).toEqual({
      id: 'chatcmpl-abc',
      object: 'chat.completion',
      created: 1_700_000_000,
      model: 'tiny',
      system_fingerprint: 'fp_test',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Hello', refusal: null },
          logprobs: null,
          finish_reason: 'length',
          stop_reason: null,
        },
      ],
      usage: {
        prompt_tokens: 11,
        completion_tokens: 4,
        total_tokens: 15,
        prompt_tokens_details: { cached_tokens: 3, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      },
    })
    expect(Value.Check(ChatCompletionSchema, body)).toBe(true)
  })

  it('encodeChatCompletion: one choice per folded choice, indexed in order, logprobs encoded or null', () => {
    const body = encodeChatCompletion(
      {
        choices: [
          { text: 'Hello', finishReason: 'stop', stopReason: 7, logprobs: [LP_HEL, LP_LO] },
          { text: '', finishReason: 'length', stopReason: null, logprobs: null },
          { text: 'x', finishReason: 'stop', stopReason: '###', logprobs: [] },
        ],
        usage: { promptTokens: 5, completionTokens: 9, cachedTokens: 0 },
      },
      META,
    )
    expect(body.choices).toEqual([
      {
        index: 0,
        message: { role: 'assistant', content: 'Hello', refusal: null },
        logprobs: { content: [ENCODED_LP_HEL, ENCODED_LP_LO], refusal: null },
        finish_reason: 'stop',
        stop_reason: 7,
      },
      { index: 1, message: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: 'length', stop_reason: null },
      {
        index: 2,
        message: { role: 'assistant', content: 'x', refusal: null },
        logprobs: { content: [], refusal: null },
        finish_reason: 'stop',
        stop_reason: '###',
      },
    ])
    expect(body.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 9, total_tokens: 14 })
    expect(Value.Check(ChatCompletionSchema, body)).toBe(true)
  })

  it('newResponseMeta: prefixed random ids, created in whole seconds now', () => {
    const before = Math.floor(Date.now() / 1000)
    const a = newResponseMeta('chatcmpl', 'm1', 'fp_x')
    const b = newResponseMeta('cmpl', 'm2', 'fp_y')
    const after = Math.floor(Date.now() / 1000)
    expect(a.id).toMatch(/^chatcmpl-[0-9a-f]{24}$/)
    expect(b.id).toMatch(/^cmpl-[0-9a-f]{24}$/)
    expect(newResponseMeta('chatcmpl', 'm1', 'fp_x').id).not.toBe(a.id)
    expect(Number.isInteger(a.created)).toBe(true)
    expect(a.created).toBeGreaterThanOrEqual(before)
    expect(a.created).toBeLessThanOrEqual(after)
    expect(a).toMatchObject({ model: 'm1', systemFingerprint: 'fp_x' })
    expect(b).toMatchObject({ model: 'm2', systemFingerprint: 'fp_y' })
  })
})

async function* stream(events: GenerationEvent[], onClose?: () => void): AsyncGenerator<GenerationEvent> {
  try {
    for (const event of events) {
      await Promise.resolve()
      yield event
    }
  } finally {
    onClose?.()
  }
}

describe('foldEvents', () => {
  it('concatenates text and takes finish reason, stop reason and usage from finished', async () => {
    expect(await foldEvents(stream(EVENTS))).toEqual({
      choices: [{ text: 'Hello', finishReason: 'stop', stopReason: '<|end|>', logprobs: null }],
      usage: USAGE,
    })
  })

  it('a stream with no text folds to empty text', async () => {
    const folded = await foldEvents(stream([EVENTS[0]!, EVENTS[3]!]))
    expect(folded.choices).toHaveLength(1)
    expect(folded.choices[0]?.text).toBe('')
    expect(folded.choices[0]?.finishReason).toBe('stop')
  })

  it('the folded result encodes to the same text and usage as the chunks', async () => {
    for (const events of [EVENTS, N2_EVENTS, LP_EVENTS]) {
      const body = encodeChatCompletion(await foldEvents(stream(events)), META)
      const chunks = encodeAll(true, events)
      for (const choice of body.choices) {
        expect(choice.message.content).toBe(textOf(chunks, choice.index))
        const streamedLogprobs = chunks
          .flatMap((c) => c.choices)
          .filter((c) => c.index === choice.index)
          .flatMap((c) => c.logprobs?.content ?? [])
        expect(choice.logprobs?.content ?? []).toEqual(streamedLogprobs)
      }
      expect(body.usage).toEqual(chunks.at(-1)?.usage)
    }
  })

  it('n = 2: interleaved events fold into choices at their own index; usage = prompt once + both completions', async () => {
    const folded = await foldEvents(stream(N2_EVENTS))
    expect(folded).toEqual({
      choices: [
        { text: 'A1A2', finishReason: 'stop', stopReason: 7, logprobs: null },
        { text: 'B1B2', finishReason: 'length', stopReason: null, logprobs: null },
      ],
      usage: { promptTokens: 11, completionTokens: 7, cachedTokens: 3 },
    })
    expect(encodeChatCompletion(folded, META).usage).toEqual(N2_USAGE)
  })

  it('n = 2: does not stop at the first finished choice', async () => {
    // Choice 0 finishes first; choice 1 keeps producing text after it.
    const folded = await foldEvents(
      stream([
        { type: 'started', promptTokens: 4, cachedTokens: 0, choices: 2 },
        { type: 'text', choice: 0, text: 'a', tokens: 1 },
        { type: 'finished', choice: 0, reason: 'stop', stopReason: null, usage: { promptTokens: 4, completionTokens: 1, cachedTokens: 0 } },
        { type: 'text', choice: 1, text: 'b', tokens: 1 },
        { type: 'text', choice: 1, text: 'c', tokens: 1 },
        { type: 'finished', choice: 1, reason: 'length', stopReason: null, usage: { promptTokens: 4, completionTokens: 2, cachedTokens: 0 } },
      ]),
    )
    expect(folded.choices.map((c) => c.text)).toEqual(['a', 'bc'])
    expect(folded.usage).toEqual({ promptTokens: 4, completionTokens: 3, cachedTokens: 0 })
  })

  it('collects logprobs per choice across text events, in order', async () => {
    const folded = await foldEvents(stream(LP_EVENTS))
    expect(folded.choices[0]?.logprobs).toEqual([LP_HEL, LP_LO])
    const body = encodeChatCompletion(folded, META)
    expect(body.choices[0]?.logprobs).toEqual({ content: [ENCODED_LP_HEL, ENCODED_LP_LO], refusal: null })

    const two = await foldEvents(
      stream([
        { type: 'started', promptTokens: 2, cachedTokens: 0, choices: 2 },
        { type: 'text', choice: 1, text: 'lo', tokens: 1, logprobs: [LP_LO] },
        { type: 'text', choice: 0, text: 'Hel', tokens: 1, logprobs: [LP_HEL] },
        { type: 'text', choice: 0, text: 'lo', tokens: 1, logprobs: [LP_LO] },
        { type: 'finished', choice: 0, reason: 'stop', stopReason: null, usage: { promptTokens: 2, completionTokens: 2, cachedTokens: 0 } },
        { type: 'finished', choice: 1, reason: 'stop', stopReason: null, usage: { promptTokens: 2, completionTokens: 1, cachedTokens: 0 } },
      ]),
    )
    expect(two.choices.map((c) => c.logprobs)).toEqual([[LP_HEL, LP_LO], [LP_LO]])
  })

  it('throws an EngineError when the stream ends before every choice finished', async () => {
    await expect(foldEvents(stream(EVENTS.slice(0, 3)))).rejects.toBeInstanceOf(EngineError)
    await expect(foldEvents(stream([]))).rejects.toBeInstanceOf(EngineError)
    // n = 2 with only choice 1 finished.
    await expect(foldEvents(stream(N2_EVENTS.slice(0, 6)))).rejects.toBeInstanceOf(EngineError)
  })

  it('passes on an error thrown by the stream', async () => {
    async function* failing(): AsyncGenerator<GenerationEvent> {
      yield EVENTS[0]!
      throw new Error('decode failed')
    }
    await expect(foldEvents(failing())).rejects.toThrow('decode failed')
  })

  it('stops reading once every choice finished and closes the stream', async () => {
    let closed = false
    const events: GenerationEvent[] = [...EVENTS, { type: 'text', choice: 0, text: 'after', tokens: 1 }]
    const folded = await foldEvents(stream(events, () => (closed = true)))
    expect(folded.choices[0]?.text).toBe('Hello')
    expect(closed).toBe(true)

    let closedN2 = false
    const n2 = await foldEvents(stream([...N2_EVENTS, { type: 'text', choice: 1, text: 'after', tokens: 1 }], () => (closedN2 = true)))
    expect(n2.choices[1]?.text).toBe('B1B2')
    expect(closedN2).toBe(true)
  })
})

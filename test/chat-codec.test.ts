import { describe, expect, it } from 'vitest'
import { decodeChatRequest } from '../src/api/codec/chat-request.js'
import { ChatChunkEncoder, encodeChatCompletion, encodeUsage, newResponseMeta, type ResponseMeta } from '../src/api/codec/chat-response.js'
import { foldEvents } from '../src/api/codec/fold-events.js'
import type { ChatCompletionRequest } from '../src/api/schemas/chat.js'
import type { GenerationEvent } from '../src/engine/types.js'
import { EngineError, InvalidRequestError } from '../src/errors.js'

const USER = [{ role: 'user' as const, content: 'hi' }]

function request(extra: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest {
  return { messages: USER, ...extra } as ChatCompletionRequest
}

/** For bodies whose content parts carry fields the wire type leaves open (`text`, `refusal`). */
const loose = (body: unknown) => body as ChatCompletionRequest

/** The InvalidRequestError decodeChatRequest throws for `body`. */
function invalid(body: unknown): InvalidRequestError {
  try {
    decodeChatRequest(body as ChatCompletionRequest, 'm')
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
    )
    expect(decoded.model).toBe('model-x')
    expect(decoded.input).toEqual({
      kind: 'chat',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'system', content: 'sys' },
        { role: 'user', content: 'q', name: 'alice' },
        { role: 'assistant', content: 'a' },
        { role: 'tool', content: 'result' },
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
    const decoded = decodeChatRequest(request({ messages: [{ role: 'user', content: [] }] }), 'm')
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
    const decoded = decodeChatRequest(request({ messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: null }] }), 'm')
    expect(decoded.input).toEqual({ kind: 'chat', messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: '' }] })
    expect(invalid({ messages: [{ role: 'user', content: null }] }).param).toBe('messages[0].content')
    expect(invalid({ messages: [{ role: 'system' }] }).param).toBe('messages[0].content')
  })

  it('a tool message needs tool_call_id', () => {
    expect(invalid({ messages: [{ role: 'tool', content: 'r' }] }).param).toBe('messages[0].tool_call_id')
  })

  it('tool calls in the conversation are refused; an empty list passes', () => {
    const error = invalid({ messages: [USER[0], { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function' }] }] })
    expect(error.param).toBe('messages[1].tool_calls')
    expect(() => decodeChatRequest(request({ messages: [{ role: 'assistant', content: 'a', tool_calls: [] }] }), 'm')).not.toThrow()
  })
})

describe('decodeChatRequest: parameters not supported yet', () => {
  it.each([
    ['n', 2],
    ['logprobs', true],
    ['top_logprobs', 3],
    ['frequency_penalty', 0.5],
    ['presence_penalty', -1],
    ['repetition_penalty', 1.1],
    ['logit_bias', { '50256': -100 }],
    ['top_k', 40],
    ['min_p', 0.05],
    ['response_format', { type: 'json_object' }],
    ['tools', [{ type: 'function', function: { name: 'f', parameters: {} } }]],
    ['tool_choice', 'required'],
    ['tool_choice', { type: 'function', function: { name: 'f' } }],
  ])('%s: %j is refused with 400 naming the param', (param, value) => {
    const error = invalid({ messages: USER, [param]: value })
    expect(error.status).toBe(400)
    expect(error.type).toBe('invalid_request_error')
    expect(error.param).toBe(param)
    expect(error.message).toContain(param)
  })

  it('their no-op values pass, all at once', () => {
    const body = request({
      n: 1,
      logprobs: false,
      top_logprobs: 0,
      frequency_penalty: 0,
      presence_penalty: 0,
      repetition_penalty: 1,
      logit_bias: {},
      top_k: -1,
      min_p: 0,
      response_format: { type: 'text' },
      tools: [],
      tool_choice: 'none',
    })
    expect(() => decodeChatRequest(body, 'm')).not.toThrow()
    expect(() => decodeChatRequest(request({ top_k: 0, tool_choice: 'auto' }), 'm')).not.toThrow()
  })

  it('null means not set and passes', () => {
    const body = request({ n: null, logprobs: null, frequency_penalty: null, tools: null, tool_choice: null, logit_bias: null })
    expect(() => decodeChatRequest(body, 'm')).not.toThrow()
  })
})

describe('decodeChatRequest: sampling and limits', () => {
  it('temperature and top_p default to 1; given values pass through, 0 included', () => {
    expect(decodeChatRequest(request(), 'm').sampling).toMatchObject({ temperature: 1, topP: 1 })
    expect(decodeChatRequest(request({ temperature: null, top_p: null }), 'm').sampling).toMatchObject({ temperature: 1, topP: 1 })
    expect(decodeChatRequest(request({ temperature: 0, top_p: 0.5 }), 'm').sampling).toMatchObject({ temperature: 0, topP: 0.5 })
  })

  it('max_completion_tokens wins over max_tokens; either alone is used; none is null', () => {
    expect(decodeChatRequest(request({ max_tokens: 10, max_completion_tokens: 20 }), 'm').maxTokens).toBe(20)
    expect(decodeChatRequest(request({ max_tokens: 30, max_completion_tokens: 5 }), 'm').maxTokens).toBe(5)
    expect(decodeChatRequest(request({ max_tokens: 10 }), 'm').maxTokens).toBe(10)
    expect(decodeChatRequest(request({ max_tokens: 10, max_completion_tokens: null }), 'm').maxTokens).toBe(10)
    expect(decodeChatRequest(request({ max_completion_tokens: 7 }), 'm').maxTokens).toBe(7)
    expect(decodeChatRequest(request(), 'm').maxTokens).toBeNull()
  })

  it('stop: a string becomes a one-item list, a list is kept, absent is empty', () => {
    expect(decodeChatRequest(request({ stop: 'END' }), 'm').stop).toEqual(['END'])
    expect(decodeChatRequest(request({ stop: ['a', 'b'] }), 'm').stop).toEqual(['a', 'b'])
    expect(decodeChatRequest(request({ stop: null }), 'm').stop).toEqual([])
    expect(decodeChatRequest(request(), 'm').stop).toEqual([])
  })

  it('seed absent: a uint32 that differs across calls', () => {
    const seeds = Array.from({ length: 8 }, () => decodeChatRequest(request(), 'm').sampling.seed)
    for (const seed of seeds) {
      expect(Number.isInteger(seed)).toBe(true)
      expect(seed).toBeGreaterThanOrEqual(0)
      expect(seed).toBeLessThan(2 ** 32)
    }
    expect(new Set(seeds).size).toBeGreaterThan(1)
    expect(Number.isInteger(decodeChatRequest(request({ seed: null }), 'm').sampling.seed)).toBe(true)
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
    const first = decodeChatRequest(request({ seed }), 'm').sampling.seed
    const second = decodeChatRequest(request({ seed }), 'm').sampling.seed
    expect(first).toBe(expected)
    expect(second).toBe(first)
  })
})

const META: ResponseMeta = { id: 'chatcmpl-abc', created: 1_700_000_000, model: 'tiny', systemFingerprint: 'fp_test' }
const USAGE = { promptTokens: 11, completionTokens: 4, cachedTokens: 3 }

const EVENTS: GenerationEvent[] = [
  { type: 'started', promptTokens: 11, cachedTokens: 3 },
  { type: 'text', text: 'Hel', tokens: 1 },
  { type: 'text', text: 'lo', tokens: 3 },
  { type: 'finished', reason: 'stop', stopReason: '<|end|>', usage: USAGE },
]

function encodeAll(includeUsage: boolean, events: GenerationEvent[] = EVENTS) {
  const encoder = new ChatChunkEncoder(META, includeUsage)
  return events.flatMap((e) => encoder.push(e))
}

describe('ChatChunkEncoder', () => {
  for (const includeUsage of [false, true]) {
    it(`includeUsage=${includeUsage}: every chunk shares id, created, model and system_fingerprint`, () => {
      for (const chunk of encodeAll(includeUsage)) {
        expect(chunk).toMatchObject({
          id: 'chatcmpl-abc',
          object: 'chat.completion.chunk',
          created: 1_700_000_000,
          model: 'tiny',
          system_fingerprint: 'fp_test',
        })
      }
    })

    it(`includeUsage=${includeUsage}: first chunk is the assistant role with empty content, text chunks carry only content`, () => {
      const chunks = encodeAll(includeUsage)
      expect(chunks[0]?.choices).toEqual([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }])
      expect(chunks[1]?.choices).toEqual([{ index: 0, delta: { content: 'Hel' }, logprobs: null, finish_reason: null }])
      expect(chunks[2]?.choices).toEqual([{ index: 0, delta: { content: 'lo' }, logprobs: null, finish_reason: null }])
      const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')
      expect(text).toBe('Hello')
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
      prompt_tokens_details: { cached_tokens: 3 },
      completion_tokens_details: { reasoning_tokens: 0 },
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
      { type: 'started', promptTokens: 1, cachedTokens: 0 },
      { type: 'finished', reason: 'length', stopReason: null, usage: { promptTokens: 1, completionTokens: 0, cachedTokens: 0 } },
    ])
    expect(chunks.at(-1)?.choices[0]).toMatchObject({ finish_reason: 'length', stop_reason: null })
    expect(chunks.at(-1)?.usage).toMatchObject({ total_tokens: 1, prompt_tokens_details: { cached_tokens: 0 } })
  })

  it('chunks are independent objects (mutating one does not change the next)', () => {
    const encoder = new ChatChunkEncoder(META, true)
    const [first] = encoder.push({ type: 'text', text: 'a', tokens: 1 })
    first!.choices[0]!.delta.content = 'changed'
    first!.id = 'changed'
    const [second] = encoder.push({ type: 'text', text: 'b', tokens: 1 })
    expect(second?.id).toBe('chatcmpl-abc')
    expect(second?.choices[0]?.delta).toEqual({ content: 'b' })
  })
})

describe('encodeUsage / encodeChatCompletion / newResponseMeta', () => {
  it('total_tokens is prompt + completion; cached_tokens is always present, 0 included', () => {
    expect(encodeUsage({ promptTokens: 100, completionTokens: 23, cachedTokens: 64 })).toEqual({
      prompt_tokens: 100,
      completion_tokens: 23,
      total_tokens: 123,
      prompt_tokens_details: { cached_tokens: 64 },
      completion_tokens_details: { reasoning_tokens: 0 },
    })
    expect(encodeUsage({ promptTokens: 5, completionTokens: 0, cachedTokens: 0 }).prompt_tokens_details).toEqual({ cached_tokens: 0 })
  })

  it('encodeChatCompletion builds the non-streamed body from the folded events', () => {
    const body = encodeChatCompletion({ text: 'Hello', finishReason: 'length', stopReason: null, usage: USAGE }, META)
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
        prompt_tokens_details: { cached_tokens: 3 },
        completion_tokens_details: { reasoning_tokens: 0 },
      },
    })
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
    expect(await foldEvents(stream(EVENTS))).toEqual({ text: 'Hello', finishReason: 'stop', stopReason: '<|end|>', usage: USAGE })
  })

  it('a stream with no text folds to empty text', async () => {
    const folded = await foldEvents(stream([EVENTS[0]!, EVENTS[3]!]))
    expect(folded.text).toBe('')
    expect(folded.finishReason).toBe('stop')
  })

  it('the folded result encodes to the same text and usage as the chunks', async () => {
    const body = encodeChatCompletion(await foldEvents(stream(EVENTS)), META)
    const chunks = encodeAll(true)
    expect(body.choices[0]?.message.content).toBe(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''))
    expect(body.usage).toEqual(chunks.at(-1)?.usage)
  })

  it('throws an EngineError when the stream ends without finished', async () => {
    await expect(foldEvents(stream(EVENTS.slice(0, 3)))).rejects.toBeInstanceOf(EngineError)
    await expect(foldEvents(stream([]))).rejects.toBeInstanceOf(EngineError)
  })

  it('passes on an error thrown by the stream', async () => {
    async function* failing(): AsyncGenerator<GenerationEvent> {
      yield EVENTS[0]!
      throw new Error('decode failed')
    }
    await expect(foldEvents(failing())).rejects.toThrow('decode failed')
  })

  it('stops reading at finished and closes the stream', async () => {
    let closed = false
    const events: GenerationEvent[] = [...EVENTS, { type: 'text', text: 'after', tokens: 1 }]
    const folded = await foldEvents(stream(events, () => (closed = true)))
    expect(folded.text).toBe('Hello')
    expect(closed).toBe(true)
  })
})

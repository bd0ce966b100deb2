import OpenAI, { BadRequestError } from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SPM_VOCAB } from '../src/gguf/spm-vocab.js'
import { postJson, startTestServer, type TestServer } from './helpers/test-server.js'

/**
 * The generation parameters of the API surface (§3.1, §3.2, §6.4) through the official `openai` client over
 * real HTTP: the widened ranges, top_p 0 as greedy, truncate_prompt_tokens -1, vendor no-ops and the usage
 * detail objects.
 */

let t: TestServer
const MODEL = 'tiny-chat'
const CONTEXT = 256
const user = (content: string) => [{ role: 'user' as const, content }]
/** Far longer than the context whatever the tokenizer does: every word is at least one token. */
const LONG = Array.from({ length: 600 }, (_, i) => `w${i % 50}`).join(' ')

beforeAll(async () => {
  t = await startTestServer({ contextSize: String(CONTEXT) })
})
afterAll(() => t?.close())

/** vLLM's extras ride along as extra body fields, as the SDK sends them. */
type Extra = Record<string, unknown>
const chat = (extra: Extra) =>
  t.client.chat.completions.create({ model: MODEL, messages: user('Tell me a story'), max_tokens: 16, ...extra } as OpenAI.ChatCompletionCreateParamsNonStreaming)
const complete = (extra: Extra) =>
  t.client.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 16, ...extra } as OpenAI.CompletionCreateParamsNonStreaming)

async function refused(request: Promise<unknown>): Promise<BadRequestError> {
  const error = await request.then(
    () => expect.fail('expected a 400'),
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(BadRequestError)
  return error as BadRequestError
}

describe('sampling ranges', () => {
  it('top_p 0 is greedy: the same output as temperature 0 for the same seed, on chat and completions', async () => {
    for (const seed of [1, 2]) {
      const greedy = await chat({ temperature: 0, seed })
      const byTopP = await chat({ top_p: 0, temperature: 1.5, seed })
      expect(byTopP.choices[0]!.message.content).toBe(greedy.choices[0]!.message.content)
      expect(byTopP.usage!.completion_tokens).toBe(greedy.usage!.completion_tokens)
      const greedyText = await complete({ temperature: 0, seed })
      expect((await complete({ top_p: 0, seed })).choices[0]!.text).toBe(greedyText.choices[0]!.text)
    }
  })

  it('temperature up to 4 and repetition_penalty above 10 are served; beyond the ranges is a 400 naming the field', async () => {
    expect((await chat({ temperature: 4, seed: 3 })).choices[0]!.finish_reason).toMatch(/stop|length/)
    expect((await complete({ temperature: 3.5, repetition_penalty: 20, seed: 3 })).choices).toHaveLength(1)
    expect((await refused(chat({ temperature: 4.5 }))).param).toBe('temperature')
    expect((await refused(chat({ top_p: -0.1 }))).param).toBe('top_p')
    expect((await refused(chat({ repetition_penalty: 0 }))).param).toBe('repetition_penalty')
  })
})

describe('vendor extras at their no-op value only', () => {
  it.each<[Extra, string]>([
    [{ top_p_min: 0.5 }, 'top_p_min'],
    [{ length_penalty: 2 }, 'length_penalty'],
    [{ early_stopping: true }, 'early_stopping'],
    [{ return_token_ids: true }, 'return_token_ids'],
    [{ structured_outputs: { structural_tag: { type: 'structural_tag', structures: [], triggers: [] } } }, 'structured_outputs.structural_tag'],
    [{ structured_outputs: { whitespace_pattern: '[ ]?' } }, 'structured_outputs.whitespace_pattern'],
    [{ structured_outputs: { choice: ['yes', 'no'], disable_fallback: true } }, 'structured_outputs.disable_fallback'],
    [{ structured_outputs: { json: { type: 'object' }, disable_any_whitespace: true } }, 'structured_outputs.disable_any_whitespace'],
    [{ structured_outputs: { json: { type: 'object' }, disable_additional_properties: true } }, 'structured_outputs.disable_additional_properties'],
  ])('%j → 400 naming %s, on chat and completions', async (extra, param) => {
    for (const request of [chat(extra), complete(extra)]) {
      const error = await refused(request)
      expect(error.param).toBe(param)
      expect(error.message).toContain(param)
    }
  })

  it('at their no-op values they pass and change nothing', async () => {
    const noOps = {
      top_p_min: 0,
      length_penalty: 1,
      early_stopping: false,
      structured_outputs: { choice: ['yes', 'no'], whitespace_pattern: null, disable_fallback: false, disable_any_whitespace: false, disable_additional_properties: false },
    }
    const res = await chat({ ...noOps, temperature: 0 })
    expect(['yes', 'no']).toContain(res.choices[0]!.message.content)
  })

  it('add_special_tokens: either value on chat evaluates the prompt /tokenize reports, BOS first', async () => {
    const messages = user('Tell me a story')
    const tokenized = await postJson(t.origin, '/tokenize', { model: MODEL, messages })
    expect(tokenized.json.tokens[0]).toBe(SPM_VOCAB.bosId)
    for (const add of [true, false]) {
      const res = await chat({ add_special_tokens: add, max_tokens: 1 })
      expect(res.usage!.prompt_tokens).toBe(tokenized.json.count)
    }
  })
})

describe('truncate_prompt_tokens -1', () => {
  it('a prompt longer than the context keeps its last (context − 1) tokens and one completion token', async () => {
    expect((await refused(chat({ messages: user(LONG) }))).code).toBe('context_length_exceeded')
    const res = await chat({ messages: user(LONG), truncate_prompt_tokens: -1 })
    expect(res.usage!.prompt_tokens).toBe(CONTEXT - 1)
    expect(res.usage!.completion_tokens).toBe(1)
    expect(res.choices[0]!.finish_reason).toBe('length')
    const text = await complete({ prompt: LONG, truncate_prompt_tokens: -1 })
    expect(text.usage!.prompt_tokens).toBe(CONTEXT - 1)
    expect(text.choices[0]!.finish_reason).toBe('length')
  })

  it('a prompt that fits is left whole; 0 is a 400 naming the field', async () => {
    const whole = await chat({ max_tokens: 2 })
    const fit = await chat({ max_tokens: 2, truncate_prompt_tokens: -1 })
    expect(fit.usage!.prompt_tokens).toBe(whole.usage!.prompt_tokens)
    expect((await refused(chat({ truncate_prompt_tokens: 0 }))).param).toBe('truncate_prompt_tokens')
  })

  it('completions echo a prompt that -1 did not cut exactly as sent', async () => {
    const prompt = ' two  spaces <|im_end|> x'
    const res = await complete({ prompt, max_tokens: 1, echo: true, temperature: 0, truncate_prompt_tokens: -1 })
    expect(res.choices[0]!.text.startsWith(prompt)).toBe(true)
  })
})

describe('usage detail objects (§6.4)', () => {
  const DETAILS = {
    prompt_tokens_details: { cached_tokens: expect.any(Number), audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  }

  it('chat and completions carry every detail field, streamed usage too', async () => {
    expect((await chat({ max_tokens: 2 })).usage).toEqual({ prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number), total_tokens: expect.any(Number), ...DETAILS })
    expect((await complete({ max_tokens: 2 })).usage).toMatchObject(DETAILS)
    const stream = await t.client.chat.completions.create({ model: MODEL, messages: user('hi'), max_tokens: 2, stream: true, stream_options: { include_usage: true } })
    let usage: OpenAI.CompletionUsage | null | undefined
    for await (const chunk of stream) usage = chunk.usage ?? usage
    expect(usage).toMatchObject(DETAILS)
  })
})

describe('/v1/responses and /v1/messages keep their own ranges', () => {
  it('responses: temperature 4 and top_p 0 served and echoed; text.verbosity outside low|medium|high is a 400 naming it', async () => {
    const res = await t.client.responses.create({ model: MODEL, input: 'hi', max_output_tokens: 2, temperature: 4, top_p: 0, text: { verbosity: 'low' } })
    expect(res).toMatchObject({ temperature: 4, top_p: 0, text: { verbosity: 'low' } })
    const bogus = { model: MODEL, input: 'hi', max_output_tokens: 2, text: { verbosity: 'bogus' } } as unknown as OpenAI.Responses.ResponseCreateParamsNonStreaming
    expect((await refused(t.client.responses.create(bogus))).param).toBe('text.verbosity')
  })

  it("messages: Anthropic's temperature stays 0–1", async () => {
    const res = await postJson(t.origin, '/v1/messages', { model: MODEL, max_tokens: 2, temperature: 1.5, messages: user('hi') })
    expect(res.status).toBe(400)
    expect(res.text).toContain('temperature')
  })
})

describe('serving extras', () => {
  it('cache_salt: a cached prompt is reused only by requests with the same salt', async () => {
    const prompt = `${LONG.slice(0, 300)} salted`
    const cached = async (salt?: string) => {
      const res = await chat({ messages: user(prompt), max_tokens: 1, ...(salt ? { cache_salt: salt } : {}) })
      return res.usage!.prompt_tokens_details!.cached_tokens!
    }
    await cached('tenant-a')
    expect(await cached('tenant-a')).toBeGreaterThan(0)
    expect(await cached('tenant-b')).toBe(0)
    expect(await cached()).toBe(0)
    expect(await cached()).toBeGreaterThan(0)
    const empty = await refused(chat({ cache_salt: '' }))
    expect(empty.param).toBe('cache_salt')
  })

  it('request_id is echoed as x-request-id; one a header cannot carry is a 400 naming it', async () => {
    const res = await postJson(t.origin, '/v1/chat/completions', { model: MODEL, messages: user('hi'), max_tokens: 1, request_id: 'my-req-42' })
    expect(res.status, res.text).toBe(200)
    expect(res.headers.get('x-request-id')).toBe('my-req-42')
    expect(res.headers.get('x-ignored-params')).toBeNull()
    const bad = await postJson(t.origin, '/v1/completions', { model: MODEL, prompt: 'hi', max_tokens: 1, request_id: 'two words' })
    expect(bad.status).toBe(400)
    expect(bad.json.error.param).toBe('request_id')
  })
})

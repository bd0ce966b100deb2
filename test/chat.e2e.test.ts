import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sseEvents } from './helpers/sse.js'
import { postJson, startTestServer, type TestServer } from './helpers/test-server.js'

let t: TestServer
const MODEL = 'tiny-chat'
const user = (content: string) => [{ role: 'user' as const, content }]

beforeAll(async () => {
  t = await startTestServer()
})
afterAll(() => t?.close())

describe('non-streamed chat completion', () => {
  it("has OpenAI's shape, with usage details always present", async () => {
    const res = await t.client.chat.completions.create({
      model: 'tiny-chat',
      messages: [{ role: 'system', content: 'You are terse.' }, ...user('Hello there')],
      max_tokens: 12,
      temperature: 0,
    })
    expect(res.id).toMatch(/^chatcmpl-/)
    expect(res.object).toBe('chat.completion')
    expect(res.created).toBeGreaterThan(1_700_000_000)
    expect(res.model).toBe('tiny-chat')
    expect(res.system_fingerprint).toMatch(/^fp_/)
    expect(res.choices).toHaveLength(1)
    const choice = res.choices[0]!
    expect(choice.index).toBe(0)
    expect(choice.message.role).toBe('assistant')
    expect(typeof choice.message.content).toBe('string')
    expect(choice.logprobs).toBeNull()
    expect(['stop', 'length']).toContain(choice.finish_reason)
    const usage = res.usage!
    expect(usage.prompt_tokens).toBeGreaterThan(5)
    expect(usage.completion_tokens).toBeGreaterThan(0)
    expect(usage.completion_tokens).toBeLessThanOrEqual(12)
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens)
    expect(usage.prompt_tokens_details?.cached_tokens).toBe(0)
    expect(usage.completion_tokens_details?.reasoning_tokens).toBe(0)
  })

  it('stops at max_tokens with finish_reason length (max_completion_tokens wins)', async () => {
    const res = await t.client.chat.completions.create({
      model: MODEL,
      messages: user('Tell me a long story'),
      max_tokens: 50,
      max_completion_tokens: 7,
      temperature: 1,
      seed: 3,
      // A random-weight model may end a turn early; a temperature-1 sample of 7 tokens rarely does.
    })
    if (res.choices[0]!.finish_reason === 'length') expect(res.usage!.completion_tokens).toBe(7)
    else expect(res.usage!.completion_tokens).toBeLessThan(7)
  })

  it('an empty or omitted model uses the default model', async () => {
    const res = await postJson(t.origin, '/v1/chat/completions', { model: '', messages: user('hi'), max_tokens: 2 })
    expect(res.status).toBe(200)
    expect(res.json.model).toBe('tiny-chat')
  })
})

describe('determinism', () => {
  it('same seed gives the same text; different seeds differ (temperature 1)', async () => {
    const ask = (seed: number) =>
      t.client.chat.completions
        .create({ model: MODEL, messages: user('Write something'), max_tokens: 24, temperature: 1, seed })
        .then((r) => r.choices[0]!.message.content)
    const [a, b, c] = [await ask(11), await ask(11), await ask(12)]
    expect(a).toBe(b)
    expect(a!.length).toBeGreaterThan(0)
    expect(c).not.toBe(a)
  })

  it('streamed and non-streamed text are identical for the same seed', async () => {
    for (const temperature of [0, 1]) {
      const params = { model: MODEL, messages: user('Stream or not'), max_tokens: 30, temperature, seed: 5 }
      const whole = await t.client.chat.completions.create(params)
      const stream = await t.client.chat.completions.create({ ...params, stream: true })
      let text = ''
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ''
      expect(text).toBe(whole.choices[0]!.message.content)
    }
  })

  it('--deterministic-prefill: a warm prefix cache gives the same output as a cold one, and reports cached tokens', async () => {
    const d = await startTestServer({ deterministicPrefill: true })
    try {
      // Long enough for several aligned prefill chunks (128 tokens each).
      const system = Array.from({ length: 20 }, (_, i) => `Rule ${i}: be kind to the reader.`).join(' ')
      const ask = (question: string) =>
        d.client.chat.completions.create({
          model: MODEL,
          messages: [{ role: 'system', content: system }, ...user(question)],
          max_tokens: 24,
          temperature: 1,
          seed: 77,
        })
      const cold = await ask('What is the first rule?')
      const other = await ask('What is the last rule?')
      const warm = await ask('What is the first rule?')
      expect(cold.usage!.prompt_tokens).toBeGreaterThan(256)
      expect(cold.usage!.prompt_tokens_details!.cached_tokens).toBe(0)
      expect(other.usage!.prompt_tokens_details!.cached_tokens).toBeGreaterThanOrEqual(128)
      expect(warm.usage!.prompt_tokens_details!.cached_tokens).toBeGreaterThanOrEqual(128)
      expect(warm.usage!.prompt_tokens_details!.cached_tokens! % 128).toBe(0)
      expect(warm.choices[0]!.message.content).toBe(cold.choices[0]!.message.content)
    } finally {
      await d.close()
    }
  })

  it('by default any cached prefix is reused: a repeated short prompt reports all but its last token cached', async () => {
    // About 40 tokens: under one deterministic chunk (128), which would never be reused.
    const ask = () =>
      t.client.chat.completions.create({ model: MODEL, messages: user('Name three colours of the sea, please, and one of the sky.'), max_tokens: 4, temperature: 0 })
    const first = await ask()
    const again = await ask()
    const promptTokens = again.usage!.prompt_tokens
    expect(promptTokens).toBeGreaterThanOrEqual(32)
    expect(promptTokens).toBeLessThan(128)
    expect(first.usage!.prompt_tokens_details!.cached_tokens).toBeLessThan(promptTokens - 1)
    expect(again.usage!.prompt_tokens_details!.cached_tokens).toBe(promptTokens - 1)
  })
})

describe('streaming', () => {
  it('sends role first, content deltas, a finishing chunk, then [DONE]; usage on the finishing chunk', async () => {
    const res = await postJson(t.origin, '/v1/chat/completions', {
      messages: user('Count with me'),
      max_tokens: 10,
      temperature: 0,
      stream: true,
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const events = sseEvents(res.text)
    expect(events.at(-1)).toBe('[DONE]')
    const chunks = events.slice(0, -1)
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' })
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1)
    expect(new Set(chunks.map((c) => c.created)).size).toBe(1)
    for (const c of chunks) {
      expect(c.object).toBe('chat.completion.chunk')
      expect(c.system_fingerprint).toMatch(/^fp_/)
      expect(c.choices).toHaveLength(1)
    }
    for (const c of chunks.slice(1, -1)) {
      expect(Object.keys(c.choices[0].delta)).toEqual(['content'])
      expect(c.choices[0].finish_reason).toBeNull()
    }
    const last = chunks.at(-1)
    expect(last.choices[0].delta).toEqual({})
    expect(['stop', 'length']).toContain(last.choices[0].finish_reason)
    const completion = chunks.slice(1, -1).reduce((n: number, c: any) => n + (c.choices[0].delta.content ? 1 : 0), 0)
    expect(last.usage.completion_tokens).toBeGreaterThanOrEqual(completion)
    expect(last.usage.total_tokens).toBe(last.usage.prompt_tokens + last.usage.completion_tokens)
  })

  it('with include_usage: usage null on every chunk and one trailing chunk with choices [] and usage', async () => {
    const stream = await t.client.chat.completions.create({
      model: MODEL,
      messages: user('Usage please'),
      max_tokens: 8,
      stream: true,
      stream_options: { include_usage: true },
      seed: 1,
    })
    const chunks = []
    for await (const chunk of stream) chunks.push(chunk)
    const last = chunks.at(-1)!
    expect(last.choices).toEqual([])
    expect(last.usage!.completion_tokens).toBeGreaterThan(0)
    for (const c of chunks.slice(0, -1)) expect(c.usage).toBeNull()
    expect(chunks.at(-2)!.choices[0]!.finish_reason).not.toBeNull()
  })

  it("works with the SDK's stream helper (finalChatCompletion checks the chunk protocol)", async () => {
    const runner = t.client.chat.completions.stream({ model: MODEL, messages: user('Helper'), max_tokens: 9, seed: 2 })
    const final = await runner.finalChatCompletion()
    expect(final.choices[0]!.message.role).toBe('assistant')
    expect(['stop', 'length']).toContain(final.choices[0]!.finish_reason)
  })
})

describe('echo (vLLM)', () => {
  it('a continued assistant turn starts the content, streamed and not; after a user turn nothing is echoed', async () => {
    const messages = [...user('Tell me a story'), { role: 'assistant', content: 'Once upon a time' }]
    const body = { model: MODEL, messages, continue_final_message: true, add_generation_prompt: false, max_tokens: 8, temperature: 0 }
    const plain = await postJson(t.origin, '/v1/chat/completions', body)
    const echoed = await postJson(t.origin, '/v1/chat/completions', { ...body, echo: true })
    expect(echoed.status, echoed.text).toBe(200)
    expect(echoed.json.choices[0].message.content).toBe(`Once upon a time${plain.json.choices[0].message.content}`)
    const streamed = await postJson(t.origin, '/v1/chat/completions', { ...body, echo: true, stream: true })
    const deltas = sseEvents(streamed.text).flatMap((e) => (e === '[DONE]' ? [] : [e.choices[0]?.delta?.content ?? '']))
    expect(deltas[0]).toBe('Once upon a time')
    expect(deltas.join('')).toBe(echoed.json.choices[0].message.content)
    const afterUser = await postJson(t.origin, '/v1/chat/completions', { model: MODEL, messages: user('Hi'), max_tokens: 4, temperature: 0, echo: true })
    const noEcho = await postJson(t.origin, '/v1/chat/completions', { model: MODEL, messages: user('Hi'), max_tokens: 4, temperature: 0 })
    expect(afterUser.json.choices[0].message.content).toBe(noEcho.json.choices[0].message.content)
  })
})

describe('stop strings', () => {
  it('end generation before the stop string, streamed or not, and never leak a prefix', async () => {
    const params = { model: MODEL, messages: user('Say many things'), max_tokens: 40, temperature: 0 }
    const free = (await t.client.chat.completions.create(params)).choices[0]!.message.content!
    expect(free.length).toBeGreaterThan(12)
    // A stop string taken from the middle of the output, long enough to span several tokens.
    const stop = free.slice(6, 12)
    const expected = free.slice(0, free.indexOf(stop))

    const whole = await t.client.chat.completions.create({ ...params, stop: [stop, 'never-appears-xyz'] })
    expect(whole.choices[0]!.message.content).toBe(expected)
    expect(whole.choices[0]!.finish_reason).toBe('stop')
    expect((whole.choices[0] as any).stop_reason).toBe(stop)

    const stream = await t.client.chat.completions.create({ ...params, stop, stream: true })
    const deltas: string[] = []
    for await (const chunk of stream) deltas.push(chunk.choices[0]?.delta.content ?? '')
    expect(deltas.join('')).toBe(expected)
    // Any leaked piece of the stop string would make the joined deltas differ from the non-streamed text.
  })
})

describe('routes and aliases', () => {
  it('serves chat under /chat/completions and /v1/openai/chat/completions too', async () => {
    for (const path of ['/chat/completions', '/v1/openai/chat/completions']) {
      const res = await postJson(t.origin, path, { messages: user('hi'), max_tokens: 2 })
      expect(res.status).toBe(200)
      expect(res.json.object).toBe('chat.completion')
    }
  })

  it('lists and retrieves models; unknown ids are 404 model_not_found', async () => {
    const list = await t.client.models.list()
    expect(list.data.map((m) => m.id)).toEqual(['tiny-chat'])
    expect(list.data[0]!.object).toBe('model')
    const one = await t.client.models.retrieve('tiny-chat')
    expect(one.id).toBe('tiny-chat')
    const missing = await fetch(`${t.origin}/v1/models/nope`)
    expect(missing.status).toBe(404)
    expect(((await missing.json()) as any).error.code).toBe('model_not_found')
  })

  it('reports health and echoes x-request-id', async () => {
    const res = await fetch(`${t.origin}/health`, { headers: { 'x-request-id': 'req-abc-123' } })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({
      status: 'ok',
      models: [{ id: 'tiny-chat', state: 'ready', slots_busy: 0, slots_total: 2, queue: 0 }],
    })
    expect(res.headers.get('x-request-id')).toBe('req-abc-123')
    const generated = await fetch(`${t.origin}/health`)
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
  })
})

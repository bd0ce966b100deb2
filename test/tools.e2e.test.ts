import { Ajv } from 'ajv'
import type OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SPM_VOCAB } from '../src/gguf/spm-vocab.js'
import { HERMES_MODEL_PATH, KIMI_MODEL_PATH, LLAMA3_MODEL_PATH, MISTRAL_MODEL_PATH, TINY_MODEL_PATH } from './helpers/models.js'
import { sseEvents } from './helpers/sse.js'
import { postJson, startTestServer, type TestServer } from './helpers/test-server.js'

let t: TestServer
const ajv = new Ajv({ strict: false })

/** One server per model: each test model is served alone (as the e2e tests elsewhere do). */
function serve(path: string) {
  beforeAll(async () => {
    t = await startTestServer({ model: [path], parallel: '4', contextSize: '2048' })
  })
  afterAll(() => t?.close())
}

const TOOLS = [
  {
    type: 'function' as const,
    function: {
      name: 'get_weather',
      description: 'Weather for a city',
      parameters: {
        type: 'object',
        properties: {
          city: { type: 'string', maxLength: 8 },
          unit: { enum: ['c', 'f'] },
          days: { type: 'integer', minimum: 1, maximum: 7 },
        },
        required: ['city', 'unit'],
      },
    },
  },
  { type: 'function' as const, function: { name: 'get_time', description: 'The time now' } },
  {
    type: 'function' as const,
    function: {
      name: 'set_alarm',
      parameters: {
        type: 'object',
        properties: { hour: { type: 'integer', minimum: 0, maximum: 23 }, label: { type: 'string', maxLength: 6 } },
        required: ['hour'],
        additionalProperties: false,
      },
      strict: true,
    },
  },
]
const VALIDATORS = new Map(
  TOOLS.map((tool) => [
    tool.function.name,
    ajv.compile(('parameters' in tool.function ? tool.function.parameters : undefined) ?? { type: 'object', maxProperties: 0 }),
  ]),
)

/** Random weights rarely close what they open, or end: nudge closers and the end-of-turn tokens. */
const NUDGES = { logit_bias: Object.fromEntries([...['"', '}', ']'].map((c) => [SPM_VOCAB.tokens.indexOf(c), 4]), [SPM_VOCAB.imEndId, 3], [SPM_VOCAB.eosId, 3]]) }

const MODELS = [
  { model: 'tiny-hermes', path: HERMES_MODEL_PATH, markers: ['<tool_call>', '</tool_call>'], opener: '<tool_call>' },
  { model: 'tiny-llama3', path: LLAMA3_MODEL_PATH, markers: ['"parameters"'], opener: '{' },
  { model: 'tiny-mistral', path: MISTRAL_MODEL_PATH, markers: ['[TOOL_CALLS]'], opener: '[TOOL_CALLS]' },
  // A named format: the call's name is text before its arguments object.
  { model: 'tiny-kimi', path: KIMI_MODEL_PATH, markers: ['<|tool_calls_section_begin|>', '<|tool_call_begin|>'], opener: '<|tool_calls_section_begin|>' },
  { model: 'tiny-chat', path: TINY_MODEL_PATH, markers: ['<tool_call>', '</tool_call>'], opener: '<tool_call>' }, // no tools in its template: the fallback prompt
] as const

const messages = [{ role: 'user' as const, content: 'What is the weather in Paris?' }]

async function chat(model: string, seed: number, extra: Record<string, unknown>) {
  const res = await postJson(t.origin, '/v1/chat/completions', { model, messages, tools: TOOLS, max_tokens: 400, seed, ...NUDGES, ...extra })
  expect(res.status, res.text).toBe(200)
  return res.json
}

type Call = { id: string; type: string; function: { name: string; arguments: string } }

function expectValidCalls(calls: Call[], allowed: string[]) {
  for (const call of calls) {
    expect(call.id).toMatch(/^call_[0-9a-f]+$/)
    expect(call.type).toBe('function')
    expect(allowed).toContain(call.function.name)
    const validate = VALIDATORS.get(call.function.name)!
    const args = JSON.parse(call.function.arguments)
    expect(validate(args), `${call.function.arguments}: ${ajv.errorsText(validate.errors)}`).toBe(true)
    if (call.function.name === 'get_time') expect(call.function.arguments).toBe('{}')
  }
}

const SEEDS = Array.from({ length: 8 }, (_, i) => i)

describe.each(MODELS)('tools on $model', ({ model, path, markers, opener }) => {
  serve(path)
  it('tool_choice required: always one or more valid calls, content null, finish_reason tool_calls', async () => {
    const outputs = await Promise.all(SEEDS.map((seed) => chat(model, seed, { tool_choice: 'required' })))
    for (const out of outputs) {
      const choice = out.choices[0]
      expect(choice.finish_reason).toBe('tool_calls')
      expect(choice.message.content).toBeNull()
      expect(choice.message.tool_calls.length).toBeGreaterThanOrEqual(1)
      expectValidCalls(choice.message.tool_calls, TOOLS.map((x) => x.function.name))
      expect(new Set(choice.message.tool_calls.map((c: Call) => c.id)).size).toBe(choice.message.tool_calls.length)
    }
  })

  it('parallel_tool_calls false: exactly one call; named choice: exactly that function', async () => {
    const single = await Promise.all(SEEDS.map((seed) => chat(model, seed, { tool_choice: 'required', parallel_tool_calls: false })))
    for (const out of single) {
      expect(out.choices[0].message.tool_calls).toHaveLength(1)
      expectValidCalls(out.choices[0].message.tool_calls, TOOLS.map((x) => x.function.name))
    }
    for (const name of ['set_alarm', 'get_time', 'get_weather']) {
      const named = await Promise.all(SEEDS.slice(0, 4).map((seed) => chat(model, seed, { tool_choice: { type: 'function', function: { name } } })))
      for (const out of named) {
        expect(out.choices[0].finish_reason).toBe('tool_calls')
        expect(out.choices[0].message.tool_calls).toHaveLength(1)
        expectValidCalls(out.choices[0].message.tool_calls, [name])
      }
    }
  })

  it('auto: content or valid calls, never a marker in content; none: never calls', async () => {
    // Push the random model towards the call marker (its characters are single tokens here). Random
    // weights never spell out a multi-character marker, but a bare `{` (Llama 3 JSON) does start calls.
    const bias = { ...NUDGES.logit_bias, ...Object.fromEntries([...opener].map((c) => [SPM_VOCAB.tokens.indexOf(c), opener === '{' ? 30 : 12])) }
    const outputs = await Promise.all(SEEDS.map((seed) => chat(model, seed, { tool_choice: 'auto', logit_bias: bias, max_tokens: 200 })))
    for (const out of outputs) {
      const { message, finish_reason } = out.choices[0]
      for (const marker of markers) expect(message.content ?? '').not.toContain(marker)
      if (message.tool_calls) {
        expect(finish_reason).toBe('tool_calls')
        expectValidCalls(message.tool_calls, TOOLS.map((x) => x.function.name))
      } else {
        expect(typeof message.content).toBe('string')
        expect(['stop', 'length']).toContain(finish_reason)
      }
      if (model === 'tiny-llama3' && !message.tool_calls) expect(message.content.trimStart().startsWith('{')).toBe(false)
    }
    if (opener === '{') expect(outputs.some((o) => o.choices[0].message.tool_calls)).toBe(true)
    const none = await Promise.all(SEEDS.slice(0, 3).map((seed) => chat(model, seed, { tool_choice: 'none', max_tokens: 24 })))
    for (const out of none) {
      expect(out.choices[0].message.tool_calls).toBeUndefined()
      expect(out.choices[0].finish_reason).not.toBe('tool_calls')
    }
  })

  it('streamed calls accumulate (openai SDK) to the non-streamed ones for the same seed', async () => {
    for (const seed of [1, 2, 3]) {
      const body = { model, messages, tools: TOOLS, tool_choice: 'required' as const, max_tokens: 400, seed, ...NUDGES }
      const plain = await t.client.chat.completions.create({ ...body, stream: false })
      const streamed = await t.client.chat.completions.stream(body).finalChatCompletion()
      const strip = (c: OpenAI.ChatCompletion) => ({
        content: c.choices[0]!.message.content,
        finish: c.choices[0]!.finish_reason,
        calls: c.choices[0]!.message.tool_calls?.map((call) => (call.type === 'function' ? [call.function.name, call.function.arguments] : null)),
      })
      expect(strip(streamed)).toEqual(strip(plain))
    }
  })

  it('a follow-up turn with the assistant calls and tool results renders', async () => {
    const out = await chat(model, 5, {
      max_tokens: 4,
      tool_choice: 'auto',
      messages: [
        ...messages,
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris", "unit": "c"}' } },
            { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: {} } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', name: 'get_weather', content: '{"temp": 21}' },
        { role: 'tool', tool_call_id: 'call_2', content: '12:00' },
      ],
    })
    expect(out.choices[0].message.role).toBe('assistant')
  })
})

describe('streamed tool-call deltas (OpenAI shape)', () => {
  serve(HERMES_MODEL_PATH)
  it('first delta of a call: index, id, type, name, empty arguments; then index + argument fragments only', async () => {
    const res = await postJson(t.origin, '/v1/chat/completions', {
      model: 'tiny-hermes',
      messages,
      tools: TOOLS,
      tool_choice: 'required',
      max_tokens: 400,
      seed: 7,
      stream: true,
      ...NUDGES,
    })
    expect(res.status).toBe(200)
    const chunks = sseEvents(res.text).filter((e) => e !== '[DONE]')
    const deltas = chunks.flatMap((c) => c.choices.flatMap((ch: any) => ch.delta.tool_calls ?? []))
    expect(deltas.length).toBeGreaterThan(1)
    const seen = new Set<number>()
    const args: string[] = []
    for (const delta of deltas) {
      if (!seen.has(delta.index)) {
        seen.add(delta.index)
        expect(delta).toEqual({ index: delta.index, id: expect.stringMatching(/^call_/), type: 'function', function: { name: expect.any(String), arguments: '' } })
        args[delta.index] = ''
      } else {
        expect(Object.keys(delta).sort()).toEqual(['function', 'index'])
        expect(Object.keys(delta.function)).toEqual(['arguments'])
        args[delta.index] += delta.function.arguments
      }
    }
    for (const a of args) expect(() => JSON.parse(a)).not.toThrow()
    for (const chunk of chunks) for (const ch of chunk.choices) expect(ch.delta.content ?? '').not.toContain('<tool_call>')
    expect(chunks.at(-1).choices[0].finish_reason).toBe('tool_calls')
  })
})

describe('tool request validation', () => {
  serve(HERMES_MODEL_PATH)
  const post = (body: Record<string, unknown>) => postJson(t.origin, '/v1/chat/completions', { model: 'tiny-hermes', messages, max_tokens: 2, ...body })
  const expect400 = async (body: Record<string, unknown>, param: string, message?: string) => {
    const res = await post(body)
    expect(res.status, res.text).toBe(400)
    expect(res.json.error.param).toBe(param)
    if (message) expect(res.json.error.message).toContain(message)
  }

  it('refuses bad choices, unknown names, unenforceable schemas and response_format with calls', async () => {
    await expect400({ tools: TOOLS, tool_choice: 'sometimes' }, 'tool_choice')
    await expect400({ tools: TOOLS, tool_choice: { type: 'function', function: { name: 'nope' } } }, 'tool_choice', 'nope')
    await expect400({ tool_choice: 'required' }, 'tool_choice')
    await expect400({ tool_choice: { type: 'function', function: { name: 'get_time' } } }, 'tool_choice')
    await expect400(
      { tools: [TOOLS[0], { type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { s: { type: 'string', pattern: '^(?!a)' } } } } }] },
      'tools[1].function.parameters',
      "'pattern' at '#/properties/s/pattern'",
    )
    await expect400({ tools: [{ type: 'function', function: { name: 'bad name' } }] }, 'tools[0].function.name')
    await expect400({ tools: [{ type: 'custom', custom: { name: 'x' } }] }, 'tools[0].type')
    await expect400({ tools: TOOLS, tool_choice: 'required', response_format: { type: 'json_object' } }, 'response_format')
    // tool_choice none leaves room for a response format.
    expect((await post({ tools: TOOLS, tool_choice: 'none', response_format: { type: 'json_object' }, max_tokens: 2 })).status).toBe(200)
  })

  it('maps the legacy functions / function_call to tools / tool_choice, and answers in kind', async () => {
    const legacy = { functions: [TOOLS[0]!.function], function_call: { name: 'get_weather' }, max_tokens: 400, seed: 3, ...NUDGES }
    const out = await post(legacy)
    expect(out.status, out.text).toBe(200)
    // As OpenAI answers a `functions` request: one `function_call`, no `tool_calls`, finish_reason function_call.
    const { message, finish_reason } = out.json.choices[0]
    expect(finish_reason).toBe('function_call')
    expect(message.tool_calls).toBeUndefined()
    expectValidCalls([{ id: 'call_0', type: 'function', function: message.function_call }], ['get_weather'])
    // Streamed: `function_call` deltas (the name first, then argument text) add up to the same call.
    const streamed = await postJson(t.origin, '/v1/chat/completions', { model: 'tiny-hermes', messages, ...legacy, stream: true })
    const chunks = sseEvents(streamed.text).filter((e) => e !== '[DONE]')
    const deltas = chunks.flatMap((c) => (c.choices[0]?.delta?.function_call ? [c.choices[0].delta.function_call] : []))
    expect(deltas[0].name).toBe('get_weather')
    expect(deltas.slice(1).every((d: { name?: string }) => d.name === undefined)).toBe(true)
    expect(deltas.map((d: { arguments: string }) => d.arguments).join('')).toBe(message.function_call.arguments)
    expect(chunks.some((c) => c.choices[0]?.delta?.tool_calls)).toBe(false)
    expect(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0].finish_reason).toBe('function_call')
    await expect400({ functions: [TOOLS[0]!.function], function_call: { name: 'nope' } }, 'function_call')
  })
})

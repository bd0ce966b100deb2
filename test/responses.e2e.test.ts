import { zodTextFormat } from 'openai/helpers/zod'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { SPM_VOCAB } from '../src/gguf/spm-vocab.js'
import { postJson, startTestServer, type TestServer } from './helpers/test-server.js'
import { checkResponseStream } from './helpers/response-events.js'
import { parseTypedEvents } from './helpers/sse.js'

let t: TestServer
const model = 'tiny-chat'

beforeAll(async () => {
  t = await startTestServer({ parallel: '4', contextSize: '2048' })
})
afterAll(() => t?.close())

/** Random weights rarely close what they open, or end: nudge closers and the end-of-turn tokens. */
const NUDGES = { logit_bias: Object.fromEntries([...['"', '}', ']'].map((c) => [SPM_VOCAB.tokens.indexOf(c), 4]), [SPM_VOCAB.imEndId, 3], [SPM_VOCAB.eosId, 3]]) }

const WEATHER = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'Weather for a city',
  parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 8 } }, required: ['city'], additionalProperties: false },
  strict: true,
}
const TIME = { type: 'function' as const, name: 'get_time', description: 'The time now', parameters: { type: 'object', properties: {}, additionalProperties: false }, strict: true }

describe('POST /v1/responses with openai-node', () => {
  it('create: a completed response object with a message, usage and the echoed request fields', async () => {
    const response = await t.client.responses.create({
      model,
      input: 'Say hello.',
      instructions: 'Be brief.',
      max_output_tokens: 16,
      temperature: 0.5,
      metadata: { case: 'one' },
    })
    expect(response.id).toMatch(/^resp_[0-9a-f]+$/)
    expect(response.object).toBe('response')
    expect(['completed', 'incomplete']).toContain(response.status)
    if (response.status === 'incomplete') expect(response.incomplete_details).toEqual({ reason: 'max_output_tokens' })
    expect(response.model).toBe(model)
    const message = response.output.find((item) => item.type === 'message')!
    expect(message.id).toMatch(/^msg_/)
    expect(message.role).toBe('assistant')
    expect(message.content[0]).toMatchObject({ type: 'output_text', annotations: [] })
    expect(response.output_text).toBe((message.content[0] as { text: string }).text)
    expect(response.usage!.input_tokens).toBeGreaterThan(0)
    expect(response.usage!.output_tokens).toBeGreaterThan(0)
    expect(response.usage!.total_tokens).toBe(response.usage!.input_tokens + response.usage!.output_tokens)
    expect(response.usage!.input_tokens_details.cached_tokens).toBeGreaterThanOrEqual(0)
    expect(response.usage!.output_tokens_details.reasoning_tokens).toBe(0)
    expect(response).toMatchObject({
      instructions: 'Be brief.',
      max_output_tokens: 16,
      temperature: 0.5,
      top_p: 1,
      metadata: { case: 'one' },
      store: true,
      previous_response_id: null,
      tools: [],
      tool_choice: 'auto',
      parallel_tool_calls: true,
      text: { format: { type: 'text' } },
      truncation: 'disabled',
      error: null,
      background: false,
    })
  })

  it('max_output_tokens reached: status incomplete with reason max_output_tokens, the message item incomplete', async () => {
    const response = await t.client.responses.create({ model, input: 'Write a long story.', max_output_tokens: 3, logit_bias: { [SPM_VOCAB.imEndId]: -100, [SPM_VOCAB.eosId]: -100 } } as any)
    expect(response.status).toBe('incomplete')
    expect(response.incomplete_details).toEqual({ reason: 'max_output_tokens' })
    expect(response.output.at(-1)).toMatchObject({ type: 'message', status: 'incomplete' })
    expect(response.usage!.output_tokens).toBe(3)
  })

  it('stream: every semantic event in order with increasing sequence_number; equals the non-streamed body at temperature 0', async () => {
    const body = { model, input: [{ role: 'user', content: [{ type: 'input_text', text: 'Count.' }] }], max_output_tokens: 12, temperature: 0, store: false }
    const plain = await postJson(t.origin, '/v1/responses', body)
    expect(plain.status, plain.text).toBe(200)
    const raw = await fetch(`${t.origin}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }) })
    expect(raw.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const events = parseTypedEvents(await raw.text())
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i))
    const types = events.map((e) => e.type)
    const deltas = types.filter((type) => type === 'response.output_text.delta').length
    expect(deltas).toBeGreaterThan(0)
    expect(types).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      ...Array(deltas).fill('response.output_text.delta'),
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      `response.${plain.json.status}`,
    ])
    const created = events[0].response
    expect(created).toMatchObject({ status: 'in_progress', output: [], usage: null })
    const item = events[2].item
    expect(events.slice(3, -4).every((e) => e.item_id === item.id && e.output_index === 0 && e.content_index === 0)).toBe(true)
    const text = events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('')
    expect(events.find((e) => e.type === 'response.output_text.done').text).toBe(text)
    const final = events.at(-1).response
    // Same output at temperature 0: only ids, times and what the prefix cache held differ.
    const strip = (r: any) => ({
      ...r,
      id: '',
      created_at: 0,
      completed_at: 0,
      output: r.output.map((o: any) => ({ ...o, id: '' })),
      usage: { ...r.usage, input_tokens_details: { ...r.usage.input_tokens_details, cached_tokens: 0 } },
    })
    expect(strip(final)).toEqual(strip(plain.json))
    expect(final.output[0].content[0].text).toBe(text)
  })

  it('responses.stream(...) helpers and finalResponse()', async () => {
    const stream = t.client.responses.stream({ model, input: 'Hi.', max_output_tokens: 8 })
    const deltas: string[] = []
    stream.on('response.output_text.delta', (event) => deltas.push(event.delta))
    const final = await stream.finalResponse()
    expect(['completed', 'incomplete']).toContain(final.status)
    expect(final.output_text).toBe(deltas.join(''))
    expect(final.id).toMatch(/^resp_/)
  })

  it('responses.parse with zodTextFormat: the output parses and validates', async () => {
    const Weather = z.object({ city: z.string().max(6), warm: z.boolean() })
    const response = await t.client.responses.parse({
      model,
      input: 'Weather as JSON.',
      text: { format: zodTextFormat(Weather, 'weather') },
      max_output_tokens: 200,
      ...NUDGES,
    } as any)
    expect(response.status).toBe('completed')
    expect(Weather.parse(response.output_parsed)).toEqual(response.output_parsed)
    expect((response as any).text.format).toMatchObject({ type: 'json_schema', name: 'weather', strict: true })
  })

  it('json_object: one JSON object', async () => {
    const res = await postJson(t.origin, '/v1/responses', { model, input: 'JSON.', text: { format: { type: 'json_object' } }, max_output_tokens: 300, ...NUDGES })
    expect(res.status, res.text).toBe(200)
    expect(typeof JSON.parse(res.json.output[0].content[0].text)).toBe('object')
  })
})

describe('function tools', () => {
  it('tool_choice required: function_call items with call_id, name and valid arguments', async () => {
    for (const seed of [1, 2, 3]) {
      const response = await t.client.responses.create({ model, input: 'Weather in Paris?', tools: [WEATHER, TIME], tool_choice: 'required', max_output_tokens: 200, seed, ...NUDGES } as any)
      const calls = response.output.filter((item) => item.type === 'function_call')
      expect(calls.length).toBeGreaterThanOrEqual(1)
      for (const call of calls) {
        expect(call.id).toMatch(/^fc_/)
        expect(call.call_id).toMatch(/^call_/)
        expect(call.status).toBe('completed')
        expect(['get_weather', 'get_time']).toContain(call.name)
        const args = JSON.parse(call.arguments)
        if (call.name === 'get_weather') expect(typeof args.city).toBe('string')
        else expect(args).toEqual({})
      }
      expect(response.output.some((item) => item.type === 'message')).toBe(false)
    }
  })

  it('a named tool: exactly that call; streamed with function_call_arguments deltas and done', async () => {
    const response = await t.client.responses.create({ model, input: 'Weather?', tools: [WEATHER, TIME], tool_choice: { type: 'function', name: 'get_weather' }, max_output_tokens: 200, ...NUDGES } as any)
    expect(response.output).toHaveLength(1)
    expect(response.output[0]).toMatchObject({ type: 'function_call', name: 'get_weather' })
    expect(response.tool_choice).toEqual({ type: 'function', name: 'get_weather' })
    expect(response.tools[0]).toMatchObject({ type: 'function', name: 'get_weather', strict: true })

    const raw = await postJson(t.origin, '/v1/responses', { model, input: 'Weather?', tools: [WEATHER], tool_choice: 'required', parallel_tool_calls: false, max_output_tokens: 200, stream: true, ...NUDGES })
    const events = parseTypedEvents(raw.text)
    checkResponseStream(events)
    const types = events.map((e) => e.type)
    expect(types.slice(0, 3)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added'])
    expect(types.filter((x) => x === 'response.function_call_arguments.delta').length).toBeGreaterThan(0)
    const done = events.find((e) => e.type === 'response.function_call_arguments.done')
    const deltas = events.filter((e) => e.type === 'response.function_call_arguments.delta').map((e) => e.delta).join('')
    expect(done.arguments).toBe(deltas)
    expect(types.slice(-2)).toEqual(['response.output_item.done', 'response.completed'])
    expect(events.at(-1).response.output[0].arguments).toBe(deltas)
  })

  it('a full round trip: call, then function_call_output, then an answer', async () => {
    const first = await t.client.responses.create({ model, input: 'Weather in Paris?', tools: [WEATHER], tool_choice: 'required', parallel_tool_calls: false, max_output_tokens: 200, ...NUDGES } as any)
    const call = first.output.find((item) => item.type === 'function_call')!
    const second = await t.client.responses.create({
      model,
      input: [
        { role: 'user', content: 'Weather in Paris?' },
        call,
        { type: 'function_call_output', call_id: call.call_id, output: '{"temp": 21}' },
      ],
      tools: [WEATHER],
      tool_choice: 'none',
      max_output_tokens: 8,
    })
    expect(second.output.at(-1)!.type).toBe('message')
    // The same turns through previous_response_id: only the output is sent.
    const third = await t.client.responses.create({
      model,
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: '{"temp": 21}' }],
      tools: [WEATHER],
      tool_choice: 'none',
      max_output_tokens: 8,
    })
    expect(third.output.at(-1)!.type).toBe('message')
    expect(third.usage!.input_tokens).toBe(second.usage!.input_tokens)
  })
})

describe('stored responses', () => {
  it('previous_response_id chains of three: prior input and output prepended, the prefix cache hit in cached_tokens', async () => {
    // Longer than a prefill chunk (128 tokens): cached prefixes are reused in whole chunks.
    const instructions = Array.from({ length: 12 }, (_, i) => `Fact ${i}: llamas hum when they are happy.`).join(' ')
    const one = await t.client.responses.create({ model, instructions, input: 'First turn.', max_output_tokens: 6, temperature: 0 })
    const two = await t.client.responses.create({ model, instructions, previous_response_id: one.id, input: 'Second turn.', max_output_tokens: 6, temperature: 0 })
    const three = await t.client.responses.create({ model, instructions, previous_response_id: two.id, input: 'Third turn.', max_output_tokens: 6, temperature: 0 })
    expect(two.previous_response_id).toBe(one.id)
    expect(three.previous_response_id).toBe(two.id)
    expect(two.usage!.input_tokens).toBeGreaterThan(one.usage!.input_tokens + one.usage!.output_tokens)
    expect(three.usage!.input_tokens).toBeGreaterThan(two.usage!.input_tokens + two.usage!.output_tokens)
    expect(three.usage!.input_tokens_details.cached_tokens).toBeGreaterThan(0)
    // The same conversation sent in full is the same prompt.
    const full = await postJson(t.origin, '/v1/responses/input_tokens', {
      model,
      instructions,
      input: [
        { role: 'user', content: 'First turn.' },
        ...one.output,
        { role: 'user', content: 'Second turn.' },
        ...two.output,
        { role: 'user', content: 'Third turn.' },
      ],
    })
    expect(full.json).toEqual({ object: 'response.input_tokens', input_tokens: three.usage!.input_tokens })
    const counted = await t.client.responses.inputTokens.count({ model, instructions, previous_response_id: two.id, input: 'Third turn.' })
    expect(counted.input_tokens).toBe(three.usage!.input_tokens)
  })

  it('retrieve, list input items (paginated), delete; then 404s', async () => {
    const input = Array.from({ length: 5 }, (_, i) => ({ role: 'user' as const, content: `Line ${i}.` }))
    const created = await t.client.responses.create({ model, input, max_output_tokens: 4 })
    const fetched = await t.client.responses.retrieve(created.id)
    expect(fetched).toEqual(created)

    const first = await t.client.responses.inputItems.list(created.id, { limit: 2 })
    expect(first.data).toHaveLength(2)
    expect(first.has_more).toBe(true)
    expect((first.data[0] as any).content[0].text).toBe('Line 4.') // desc: newest first
    const all: any[] = []
    for await (const item of t.client.responses.inputItems.list(created.id, { limit: 2, order: 'asc' })) all.push(item)
    expect(all.map((item) => item.content[0].text)).toEqual(input.map((m) => m.content))
    expect(all.every((item) => /^msg_/.test(item.id) && item.type === 'message')).toBe(true)
    const raw: any = await fetch(`${t.origin}/v1/responses/${created.id}/input_items?limit=2&order=asc&after=${all[1].id}`).then((r) => r.json())
    expect(raw).toMatchObject({ object: 'list', first_id: all[2].id, last_id: all[3].id, has_more: true })

    const cancel = await postJson(t.origin, `/v1/responses/${created.id}/cancel`, {})
    expect(cancel.status).toBe(400)
    expect(cancel.json.error.message).toMatch(/background/)
    await t.client.responses.delete(created.id)
    expect((await postJson(t.origin, `/v1/responses/${created.id}/cancel`, {})).status).toBe(404)
    for (const path of [`/v1/responses/${created.id}`, `/v1/responses/${created.id}/input_items`, '/v1/responses/resp_missing']) {
      const res = await fetch(`${t.origin}${path}`)
      expect(res.status).toBe(404)
      expect(((await res.json()) as any).error).toMatchObject({ type: 'invalid_request_error', code: 'not_found' })
    }
    const again = await fetch(`${t.origin}/v1/responses/${created.id}`, { method: 'DELETE' })
    expect(again.status).toBe(404)
    const continued = await postJson(t.origin, '/v1/responses', { model, previous_response_id: created.id, input: 'x', max_output_tokens: 2 })
    expect(continued.status).toBe(404)
    expect(continued.json.error).toMatchObject({ param: 'previous_response_id', code: 'previous_response_not_found' })
  })

  it('store: false is not kept; item_reference resolves stored items', async () => {
    const unstored = await t.client.responses.create({ model, input: 'x', max_output_tokens: 2, store: false })
    expect((unstored as any).store).toBe(false)
    expect((await fetch(`${t.origin}/v1/responses/${unstored.id}`)).status).toBe(404)
    const stored = await t.client.responses.create({ model, input: 'Question.', max_output_tokens: 4 })
    const referenced = await postJson(t.origin, '/v1/responses', {
      model,
      input: [{ role: 'user', content: 'Question.' }, { type: 'item_reference', id: stored.output[0]!.id }, { role: 'user', content: 'More.' }],
      max_output_tokens: 2,
    })
    expect(referenced.status, referenced.text).toBe(200)
    const continued = await postJson(t.origin, '/v1/responses', { model, previous_response_id: stored.id, input: 'More.', max_output_tokens: 2 })
    expect(referenced.json.usage.input_tokens).toBe(continued.json.usage.input_tokens)
    const missing = await postJson(t.origin, '/v1/responses', { model, input: [{ type: 'item_reference', id: 'msg_nope' }] })
    expect(missing.status).toBe(404)
    expect(missing.json.error.param).toBe('input[0].id')
  })

  it('served without /v1 and under /v1/openai too', async () => {
    for (const prefix of ['', '/v1/openai']) {
      const res = await postJson(t.origin, `${prefix}/responses`, { model, input: 'x', max_output_tokens: 2 })
      expect(res.status, res.text).toBe(200)
      expect((await fetch(`${t.origin}${prefix}/responses/${res.json.id}`)).status).toBe(200)
    }
  })
})

describe('refused and invalid fields: 400 naming the field', () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ background: true }, 'background'],
    [{ tools: [{ type: 'web_search' }] }, 'tools[0].type'],
    [{ tools: [{ type: 'function', name: 'bad name' }] }, 'tools[0].name'],
    [{ include: ['reasoning.encrypted_content'] }, 'include'],
    [{ input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'https://x/y.png' }] }] }, 'input[0].content[0].type'],
    [{ input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'f' }] }] }, 'input[0].content[0].type'],
    [{ input: [{ type: 'computer_call_output' }] }, 'input[0].type'],
    [{ input: [{ role: 'tool', content: 'x' }] }, 'input[0].role'],
    [{ text: { format: { type: 'json_schema', name: 'x' } } }, 'text.format.schema'],
    [{ text: { format: { type: 'regex' } } }, 'text.format.type'],
    [{ tool_choice: 'required' }, 'tool_choice'],
    [{ tools: [WEATHER], tool_choice: { type: 'function', name: 'nope' } }, 'tool_choice'],
    [{ tool_choice: { type: 'web_search_preview' } }, 'tool_choice'],
    [{ tools: [WEATHER], text: { format: { type: 'json_object' } } }, 'text.format'],
    [{ conversation: 'conv_1' }, 'conversation'],
    [{ prompt: { id: 'p' } }, 'prompt'],
    [{ top_logprobs: 3 }, 'top_logprobs'],
    [{ max_output_tokens: 0 }, 'max_output_tokens'],
    [{ truncation: 'sometimes' }, 'truncation'],
    [{ input: [] }, 'input'],
  ]
  it.each(cases)('%j → %s', async (fields, param) => {
    const res = await postJson(t.origin, '/v1/responses', { model, input: 'x', max_output_tokens: 2, ...fields })
    expect(res.status, res.text).toBe(400)
    expect(res.json.error.type).toBe('invalid_request_error')
    expect(res.json.error.param).toBe(param)
  })

  it('truncation: disabled → 400 context_length_exceeded on overflow; auto drops the oldest items until it fits', async () => {
    const long = Array.from({ length: 30 }, (_, i) => ({ role: 'user', content: `Turn ${i}: ${'many words here '.repeat(40)}` }))
    const refused = await postJson(t.origin, '/v1/responses', { model, input: long, max_output_tokens: 2 })
    expect(refused.status, refused.text).toBe(400)
    expect(refused.json.error).toMatchObject({ code: 'context_length_exceeded', param: 'input' })
    const truncated = await postJson(t.origin, '/v1/responses', { model, input: long, truncation: 'auto', instructions: 'Stay.', max_output_tokens: 2 })
    expect(truncated.status, truncated.text).toBe(200)
    expect(truncated.json.truncation).toBe('auto')
    expect(truncated.json.usage.input_tokens).toBeLessThan(2048)
    expect(truncated.json.usage.input_tokens).toBeGreaterThan(2048 - 250) // only as many turns as needed (one is ~170 tokens)
    // A history so long that its length alone rules it out (refused before it is tokenized) is truncated too.
    const huge = Array.from({ length: 600 }, (_, i) => ({ role: 'user', content: `Turn ${i}: ${'many words here '.repeat(40)}` }))
    const cut = await postJson(t.origin, '/v1/responses', { model, input: huge, truncation: 'auto', max_output_tokens: 2 })
    expect(cut.status, cut.text).toBe(200)
    expect(cut.json.usage.input_tokens).toBeGreaterThan(2048 - 250)
  })
})

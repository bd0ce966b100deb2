import { createOpenAI } from '@ai-sdk/openai'
import { tool } from '@langchain/core/tools'
import { ChatOpenAI } from '@langchain/openai'
import { generateObject } from 'ai'
import { zodFunction, zodResponseFormat } from 'openai/helpers/zod'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { SPM_VOCAB } from '../src/gguf/spm-vocab.js'
import { HERMES_MODEL_PATH } from './helpers/models.js'
import { startTestServer, type TestServer } from './helpers/test-server.js'

/**
 * The structured-output paths of the clients people use, end to end on a random-weight model (so only the
 * grammar makes the output valid): openai-node's zod helpers, LangChain's withStructuredOutput (both
 * methods) and bindTools, and the AI SDK's generateObject. Each sends zod 4's JSON Schema, `$schema`,
 * safe-integer bounds, uuids, enums, records and optionals included.
 */
let t: TestServer
const MODEL = 'tiny-hermes'

beforeAll(async () => {
  t = await startTestServer({ model: [HERMES_MODEL_PATH], parallel: '4', contextSize: '2048' })
})
afterAll(() => t?.close())

/** Closing characters nudged (a plain logit_bias, applied before the grammar) so a random model ends strings and objects. */
const BIAS: Record<string, number> = Object.fromEntries([...['"', '}', ']'].map((c) => [SPM_VOCAB.tokens.indexOf(c), 4]), [SPM_VOCAB.imEndId, 3], [SPM_VOCAB.eosId, 3]])

const Order = z.object({
  id: z.uuid(),
  status: z.enum(['open', 'paid', 'shipped']),
  quantity: z.int(),
  price: z.number().positive().max(1000),
  note: z.string().max(8).optional(),
  counts: z.record(z.string().max(4), z.int().min(0).max(9)),
  when: z.iso.datetime().optional(),
})

/**
 * openai-node's helpers require optionals to be nullable too (OpenAI's strict mode makes every field
 * required) and refuse records client-side; records go through parse() as a plain json_schema below.
 */
const OpenAIOrder = Order.omit({ counts: true }).extend({ note: z.string().max(8).nullable().optional(), when: z.iso.datetime().nullable().optional() })

describe('openai-node', () => {
  it('chat.completions.parse with zodResponseFormat', async () => {
    for (const seed of [1, 2, 3]) {
      const completion = await t.client.chat.completions.parse({
        model: MODEL,
        messages: [{ role: 'user', content: 'The order, please.' }],
        response_format: zodResponseFormat(OpenAIOrder, 'order'),
        max_tokens: 500,
        seed,
        logit_bias: BIAS,
      })
      const parsed = completion.choices[0]!.message.parsed
      expect(completion.choices[0]!.finish_reason).toBe('stop')
      expect(OpenAIOrder.parse(parsed)).toEqual(parsed)
    }
  })

  it('chat.completions.parse with a zod 4 record schema sent as json_schema', async () => {
    const completion = await t.client.chat.completions.parse({
      model: MODEL,
      messages: [{ role: 'user', content: 'The order, please.' }],
      response_format: { type: 'json_schema', json_schema: { name: 'order', schema: z.toJSONSchema(Order), strict: true } },
      max_tokens: 500,
      seed: 7,
      logit_bias: BIAS,
    })
    const parsed = completion.choices[0]!.message.parsed
    expect(Order.parse(parsed)).toEqual(parsed)
  })

  it('chat.completions.parse with zodFunction tools', async () => {
    const completion = await t.client.chat.completions.parse({
      model: MODEL,
      messages: [{ role: 'user', content: 'Place the order.' }],
      tools: [zodFunction({ name: 'place_order', parameters: OpenAIOrder })],
      tool_choice: 'required',
      max_tokens: 500,
      seed: 4,
      logit_bias: BIAS,
    })
    const call = completion.choices[0]!.message.tool_calls![0]!
    expect(call.type).toBe('function')
    if (call.type !== 'function') return
    expect(call.function.name).toBe('place_order')
    expect(OpenAIOrder.parse(call.function.parsed_arguments)).toEqual(call.function.parsed_arguments)
  })
})

describe('LangChain', () => {
  // Seeded (LangChain passes modelKwargs through), so a run is reproducible: unseeded, temperature 1 drew anew each time.
  const model = () =>
    new ChatOpenAI({ model: MODEL, apiKey: 'test', configuration: { baseURL: `${t.origin}/v1` }, maxRetries: 0, maxTokens: 500, logitBias: BIAS, temperature: 1, modelKwargs: { seed: 9 } })

  it.each(['jsonSchema', 'functionCalling'] as const)('withStructuredOutput(zod) with method %s', async (method) => {
    const structured = model().withStructuredOutput(Order, { method, name: 'order' })
    const result = await structured.invoke('The order, please.')
    expect(Order.parse(result)).toEqual(result)
  })

  it('bindTools with a zod tool', async () => {
    const placeOrder = tool(async (order) => JSON.stringify(order), { name: 'place_order', description: 'Places an order.', schema: Order })
    const message = await model().bindTools([placeOrder], { tool_choice: 'required' }).invoke('Place the order.')
    // parallel_tool_calls at its default (true): one call or several, each valid.
    expect(message.tool_calls!.length).toBeGreaterThanOrEqual(1)
    for (const call of message.tool_calls!) {
      expect(call.name).toBe('place_order')
      expect(Order.parse(call.args)).toEqual(call.args)
    }
  })
})

describe('Vercel AI SDK', () => {
  it('generateObject with the chat-completions provider', async () => {
    const openai = createOpenAI({ baseURL: `${t.origin}/v1`, apiKey: 'test' })
    const { object } = await generateObject({
      model: openai.chat(MODEL),
      schema: Order,
      prompt: 'The order, please.',
      maxOutputTokens: 500,
      maxRetries: 0,
      seed: 5,
      providerOptions: { openai: { logitBias: BIAS } },
    })
    expect(Order.parse(object)).toEqual(object)
  })
})

import { createOpenAI } from '@ai-sdk/openai'
import { ChatOpenAI } from '@langchain/openai'
import { Agent, OpenAIResponsesModel, run, setDefaultOpenAIClient, setTracingDisabled, tool } from '@openai/agents'
import { generateObject, generateText, stepCountIs, streamText, tool as aiTool } from 'ai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { SPM_VOCAB } from '../src/gguf/spm-vocab.js'
import { startTestServer, type TestServer } from './helpers/test-server.js'

let t: TestServer
const model = 'tiny-chat'
/** Random weights rarely close what they open, or end: nudge closers and the end-of-turn tokens. */
const NUDGES = { logit_bias: Object.fromEntries([...['"', '}', ']'].map((c) => [SPM_VOCAB.tokens.indexOf(c), 4]), [SPM_VOCAB.imEndId, 3], [SPM_VOCAB.eosId, 3]]) }

beforeAll(async () => {
  t = await startTestServer({ parallel: '2', contextSize: '2048' })
  // The Agents SDK would export traces to OpenAI; nothing leaves this machine.
  setTracingDisabled(true)
  setDefaultOpenAIClient(t.client as never)
})
afterAll(() => t?.close())

describe('@openai/agents with its default (Responses) model', () => {
  it('an agent calls a tool (arguments valid for its zod schema) and ends with its result', async () => {
    const calls: Array<{ city: string }> = []
    const getWeather = tool({
      name: 'get_weather',
      description: 'Weather for a city',
      parameters: z.object({ city: z.string().max(8) }),
      execute: async (args) => {
        calls.push(args)
        return `sunny in ${args.city}`
      },
    })
    const agent = new Agent({
      name: 'weather',
      instructions: 'Use the tool.',
      model, // a plain name: the default model provider, i.e. Responses on the default client
      tools: [getWeather],
      toolUseBehavior: 'stop_on_first_tool',
      modelSettings: { toolChoice: 'required', maxTokens: 200, providerData: NUDGES },
    })
    const result = await run(agent, 'Weather in Paris?')
    expect(calls).toHaveLength(1)
    expect(typeof calls[0]!.city).toBe('string')
    expect(result.finalOutput).toBe(`sunny in ${calls[0]!.city}`)
  })

  it('outputType: the final output is parsed and valid, streamed and not; OpenAIResponsesModel explicitly', async () => {
    const Forecast = z.object({ warm: z.boolean(), city: z.string().max(6) })
    const agent = new Agent({
      name: 'forecast',
      instructions: 'Answer as JSON.',
      model: new OpenAIResponsesModel(t.client as never, model),
      outputType: Forecast,
      modelSettings: { maxTokens: 200, providerData: NUDGES },
    })
    const result = await run(agent, 'Is it warm?')
    expect(Forecast.parse(result.finalOutput)).toEqual(result.finalOutput)
    const streamed = await run(agent, 'Is it warm?', { stream: true })
    for await (const _ of streamed) {
      // drain the events
    }
    await streamed.completed
    expect(Forecast.parse(streamed.finalOutput)).toEqual(streamed.finalOutput)
  })
})

describe('the Vercel AI SDK (openai.responses(model))', () => {
  const provider = () => createOpenAI({ baseURL: `${t.origin}/v1`, apiKey: 'test' })

  it('generateText: text, finish reason and usage', async () => {
    const result = await generateText({ model: provider().responses(model), prompt: 'Say hi.', maxOutputTokens: 8, temperature: 0 })
    expect(typeof result.text).toBe('string')
    expect(result.text.length).toBeGreaterThan(0)
    expect(['stop', 'length']).toContain(result.finishReason)
    expect(result.usage.inputTokens).toBeGreaterThan(0)
    expect(result.usage.outputTokens).toBeGreaterThan(0)
    expect(result.response.id).toMatch(/^resp_/)
  })

  it('streamText: the streamed text equals generateText at temperature 0', async () => {
    const args = { model: provider().responses(model), prompt: 'Count.', maxOutputTokens: 10, temperature: 0 }
    const plain = await generateText(args)
    const result = streamText(args)
    let text = ''
    for await (const delta of result.textStream) text += delta
    expect(text).toBe(plain.text)
    expect((await result.usage).outputTokens).toBe(plain.usage.outputTokens)
  })

  it('a tool round trip in two steps: the call, then its output and a text answer', async () => {
    const bodies: any[] = []
    // Records each request, and adds the nudges (a server extension the AI SDK has no option for).
    const fetchSpy: typeof fetch = async (url, init) => {
      const body = JSON.parse(String(init?.body))
      bodies.push(body)
      return fetch(url, { ...init, body: JSON.stringify({ ...body, ...NUDGES }) })
    }
    const calls: unknown[] = []
    const result = await generateText({
      model: createOpenAI({ baseURL: `${t.origin}/v1`, apiKey: 'test', fetch: fetchSpy }).responses(model),
      prompt: 'Weather in Paris?',
      tools: { get_weather: aiTool({ description: 'Weather', inputSchema: z.object({ city: z.string().max(8) }), execute: async (args) => (calls.push(args), 'sunny') }) },
      toolChoice: 'required',
      prepareStep: ({ stepNumber }) => (stepNumber === 1 ? { toolChoice: 'none' } : {}),
      stopWhen: stepCountIs(2),
      maxOutputTokens: 200,
      providerOptions: { openai: { parallelToolCalls: false } },
    })
    expect(calls).toHaveLength(1)
    expect(result.steps).toHaveLength(2)
    expect(result.steps[0]!.toolCalls[0]!.toolName).toBe('get_weather')
    const callId = result.steps[0]!.toolCalls[0]!.toolCallId
    const second = bodies[1].input as any[]
    // The call goes back in full or (with stored items) as an item_reference; either must be understood.
    expect(second.some((item) => (item.type === 'function_call' && item.call_id === callId) || item.type === 'item_reference'), JSON.stringify(second)).toBe(true)
    expect(second.some((item) => item.type === 'function_call_output' && item.call_id === callId)).toBe(true)
    expect(result.steps[1]!.content.some((part) => part.type === 'text')).toBe(true)
  })

  it('generateObject: a valid object for the schema', async () => {
    const schema = z.object({ warm: z.boolean(), city: z.string().max(6) })
    const { object } = await generateObject({ model: provider().responses(model), schema, prompt: 'Forecast?', maxOutputTokens: 100 })
    expect(schema.parse(object)).toEqual(object)
  })
})

describe('LangChain ChatOpenAI with useResponsesApi', () => {
  it('invoke and stream go through /v1/responses', async () => {
    const served = async () => {
      const metrics = await (await fetch(`${t.origin}/metrics`)).text()
      return Number(/gguf_serve_http_requests_total\{route="\/v1\/responses",status="200"\} (\d+)/.exec(metrics)?.[1] ?? 0)
    }
    const before = await served()
    const llm = new ChatOpenAI({ model, useResponsesApi: true, apiKey: 'test', maxTokens: 6, temperature: 0, configuration: { baseURL: `${t.origin}/v1` } })
    const message = await llm.invoke('Say hi.')
    expect(typeof message.text).toBe('string')
    expect(message.text.length).toBeGreaterThan(0)
    expect(message.response_metadata.id ?? message.id).toMatch(/^resp_|^msg_/)
    let streamed = ''
    for await (const chunk of await llm.stream('Say hi.')) streamed += chunk.text
    expect(streamed).toBe(message.text)
    await expect.poll(served).toBe(before + 2)
  })
})

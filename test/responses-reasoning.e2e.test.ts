import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { THINKING_MODEL_PATH } from './helpers/models.js'
import { checkResponseStream } from './helpers/response-events.js'
import { parseTypedEvents } from './helpers/sse.js'
import { postJson, startTestServer, type TestServer } from './helpers/test-server.js'

let t: TestServer
const model = 'tiny-thinking'

beforeAll(async () => {
  t = await startTestServer({ model: [THINKING_MODEL_PATH], parallel: '2', contextSize: '1024' })
})
afterAll(() => t?.close())

describe('reasoning items (a <think> template)', () => {
  it('the thinking is a reasoning item (reasoning_text content, reasoning_tokens counted), streamed as reasoning_text events', async () => {
    // A grammar (llama-server's field, accepted as on chat) opens the thought; random weights never close
    // it, so the output is all thinking, cut at max_output_tokens.
    const grammar = 'root ::= "<think>" [a-z]{3,8} "</think>" "\\n\\n" [a-z]{2,6}'
    const body = { model, input: 'Think, then answer.', grammar, max_output_tokens: 24, temperature: 0, reasoning: { effort: 'high' } }
    const res = await postJson(t.origin, '/v1/responses', body)
    expect(res.status, res.text).toBe(200)
    const [reasoning] = res.json.output
    expect(reasoning).toMatchObject({ type: 'reasoning', summary: [] })
    expect(reasoning.id).toMatch(/^rs_/)
    expect(reasoning.content).toHaveLength(1)
    expect(reasoning.content[0].type).toBe('reasoning_text')
    expect(reasoning.content[0].text.length).toBeGreaterThan(0)
    expect(res.json.status).toBe('incomplete')
    expect(res.json.usage.output_tokens_details.reasoning_tokens).toBeGreaterThan(0)
    expect(res.json.reasoning).toEqual({ effort: 'high', summary: null })

    const streamed = parseTypedEvents((await postJson(t.origin, '/v1/responses', { ...body, stream: true })).text)
    const final = checkResponseStream(streamed)
    expect(streamed.some((e) => e.type === 'response.reasoning_text.delta')).toBe(true)
    expect(final.output.map((o: any) => o.content)).toEqual(res.json.output.map((o: any) => o.content))
  })

  it("earlier reasoning items are accepted as input and go to the template as the assistant turn's thinking", async () => {
    const turns = (thinking: unknown[]) => ({
      model,
      input: [
        { role: 'user', content: 'Think.' },
        ...thinking,
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'yes', annotations: [] }] },
        { role: 'user', content: 'Again.' },
      ],
    })
    const withThoughts = await postJson(t.origin, '/v1/responses/input_tokens', turns([{ type: 'reasoning', id: 'rs_1', summary: [], content: [{ type: 'reasoning_text', text: 'hmm let me see' }] }]))
    const without = await postJson(t.origin, '/v1/responses/input_tokens', turns([]))
    expect(withThoughts.status, withThoughts.text).toBe(200)
    // Whether a template shows earlier thinking is the template's choice: never fewer tokens with it.
    expect(withThoughts.json.input_tokens).toBeGreaterThanOrEqual(without.json.input_tokens)
  })
})

import Anthropic, { BadRequestError, type APIError } from '@anthropic-ai/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { THINKING_MODEL_PATH } from './helpers/models.js'
import { postJson, startTestServer, type TestServer } from './helpers/test-server.js'
import { THINKING_TEMPLATE } from './helpers/tool-templates.js'

/**
 * Extended thinking on a thinking template. This variant opens `<think>` in the generation prompt (as
 * Qwen3-Thinking-2507's does) unless `enable_thinking` is false, so the tiny random model starts inside its
 * thoughts; random weights never write `</think>` themselves, so only the budget can end them.
 */
const THINKS_UNLESS_DISABLED = THINKING_TEMPLATE.replace(
  '{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n{% endif %}',
  '{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n{% else %}<think>\n{% endif %}',
)

let t: TestServer
let client: Anthropic
const MODEL = 'claude-opus-4-1'
const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'Think, then answer.' }]
// Greedy, so runs with and without a budget think the same thoughts until the budget cuts them.
const BASE = { model: MODEL, messages, temperature: 0 } as const

beforeAll(async () => {
  expect(THINKS_UNLESS_DISABLED).not.toBe(THINKING_TEMPLATE)
  t = await startTestServer({}, undefined, `
models:
  - id: tiny-thinking
    source: ${JSON.stringify(THINKING_MODEL_PATH)}
    aliases: ["claude-*"]
    chatTemplate: ${JSON.stringify(THINKS_UNLESS_DISABLED)}
    threads: 1
    contextSize: 1024
    parallel: 2
`)
  client = new Anthropic({ baseURL: t.origin, apiKey: 'unused', maxRetries: 0, timeout: 60_000 })
})
afterAll(() => t?.close())

const create = (extra: Record<string, unknown>) => client.messages.create({ ...BASE, max_tokens: 40, ...extra } as Anthropic.MessageCreateParamsNonStreaming)

async function tokenCount(text: string): Promise<number> {
  const res = await postJson(t.origin, '/tokenize', { model: 'tiny-thinking', prompt: text, add_special_tokens: false })
  return res.json.count
}

describe('thinking', () => {
  it('budget_tokens caps the thoughts: the segment is closed at the budget and the answer follows', async () => {
    // Without a cap the model thinks until max_tokens.
    const uncapped = await create({ thinking: { type: 'adaptive' } })
    expect(uncapped.stop_reason).toBe('max_tokens')
    expect(uncapped.content.map((b) => b.type)).toEqual(['thinking'])
    const allThoughts = (uncapped.content[0] as Anthropic.ThinkingBlock).thinking

    const capped = await create({ thinking: { type: 'enabled', budget_tokens: 10 } })
    expect(capped.content.map((b) => b.type)).toEqual(['thinking', 'text'])
    const [thinking, text] = capped.content as [Anthropic.ThinkingBlock, Anthropic.TextBlock]
    expect(thinking.signature.length).toBeGreaterThan(20)
    expect(thinking.thinking).not.toMatch(/<\/?think>/)
    // The same thoughts, cut short: at most the budget, markers included.
    expect(allThoughts.startsWith(thinking.thinking.trimEnd())).toBe(true)
    expect(thinking.thinking.length).toBeLessThan(allThoughts.length)
    expect(await tokenCount(thinking.thinking)).toBeLessThanOrEqual(10)
    expect(text.text.length).toBeGreaterThan(0)

    const wider = await create({ thinking: { type: 'enabled', budget_tokens: 20 } })
    expect((wider.content[0] as Anthropic.ThinkingBlock).thinking.length).toBeGreaterThan(thinking.thinking.length)
  })

  it('streamed: thinking_delta, then signature_delta, at index 0; the text at index 1', async () => {
    const stream = client.messages.stream({ ...BASE, max_tokens: 30, thinking: { type: 'enabled', budget_tokens: 8 } } as Anthropic.MessageCreateParamsNonStreaming)
    const seen: string[] = []
    let signature = ''
    for await (const event of stream) {
      if (event.type === 'content_block_start') seen.push(`start ${event.index} ${event.content_block.type}`)
      if (event.type === 'content_block_delta') {
        if (event.delta.type === 'signature_delta') signature = event.delta.signature
        if (seen.at(-1) !== `${event.delta.type} ${event.index}`) seen.push(`${event.delta.type} ${event.index}`)
      }
      if (event.type === 'content_block_stop') seen.push(`stop ${event.index}`)
    }
    expect(seen).toEqual(['start 0 thinking', 'thinking_delta 0', 'signature_delta 0', 'stop 0', 'start 1 text', 'text_delta 1', 'stop 1'])
    const final = await stream.finalMessage()
    expect((final.content[0] as Anthropic.ThinkingBlock).signature).toBe(signature)
    const plain = await create({ max_tokens: 30, thinking: { type: 'enabled', budget_tokens: 8 } })
    expect(final.content).toEqual(plain.content)
  })

  it('thinking disabled: the template closes the segment at once and no thinking block comes back', async () => {
    const message = await create({ max_tokens: 8, thinking: { type: 'disabled' } })
    expect(message.content.map((b) => b.type)).toEqual(['text'])
  })

  it('thinking in history goes back into the prompt (redacted thinking does not); signatures are not checked', async () => {
    const first = await create({ max_tokens: 30, thinking: { type: 'enabled', budget_tokens: 8 } })
    const history = (content: Anthropic.ContentBlockParam[]): Anthropic.MessageCountTokensParams => ({
      model: MODEL,
      thinking: { type: 'enabled', budget_tokens: 8 },
      messages: [...messages, { role: 'assistant', content }, { role: 'user', content: 'Go on.' }],
    })
    const text = first.content.filter((b) => b.type === 'text') as Anthropic.TextBlockParam[]
    const withThoughts = await client.messages.countTokens(history(first.content as Anthropic.ContentBlockParam[]))
    const without = await client.messages.countTokens(history(text))
    const redacted = await client.messages.countTokens(history([{ type: 'redacted_thinking', data: 'b3BhcXVl' }, ...text]))
    expect(withThoughts.input_tokens).toBeGreaterThan(without.input_tokens)
    expect(redacted.input_tokens).toBe(without.input_tokens)
    const next = await client.messages.create({ ...history(first.content as Anthropic.ContentBlockParam[]), max_tokens: 30 })
    expect(next.usage.input_tokens + next.usage.cache_read_input_tokens!).toBe(withThoughts.input_tokens)
  })

  it('budget_tokens must be below max_tokens', async () => {
    const error = await create({ max_tokens: 16, thinking: { type: 'enabled', budget_tokens: 16 } }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(BadRequestError)
    expect((error as APIError).error).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringContaining('budget_tokens') } })
  })
})

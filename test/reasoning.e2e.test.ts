import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SPM_VOCAB } from '../src/gguf/spm-vocab.js'
import { THINKING_MODEL_PATH } from './helpers/models.js'
import { postJson, startTestServer, type TestServer } from './helpers/test-server.js'

let t: TestServer
const model = 'tiny-thinking'

beforeAll(async () => {
  t = await startTestServer({ model: [THINKING_MODEL_PATH], parallel: '2', contextSize: '1024', trustRequestChatTemplate: true })
})
afterAll(() => t?.close())

/** Random weights never close a thought by themselves: a grammar makes the outputs exact in shape. */
const grammar = (gbnf: string) => ({ type: 'grammar', grammar: gbnf })
const THINK_THEN_ANSWER = grammar('root ::= "<think>" [a-z]{3,8} "</think>" "\\n\\n" [a-z]{2,6}')
const ANSWER_ONLY = grammar('root ::= [a-z]{2,6}')

const messages = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'Think, then answer.' },
]

async function chat(body: Record<string, unknown>) {
  const res = await postJson(t.origin, '/v1/chat/completions', { model, messages, max_tokens: 64, seed: 3, ...body })
  expect(res.status, res.text).toBe(200)
  return res.json
}

async function expect400(body: Record<string, unknown>, param: string) {
  const res = await postJson(t.origin, '/v1/chat/completions', { model, messages, max_tokens: 4, ...body })
  expect(res.status, res.text).toBe(400)
  expect(res.json.error.param).toBe(param)
}

describe('reasoning models (<think> in the template)', () => {
  it('splits thoughts from the answer: both names, no markers, reasoning_tokens counted', async () => {
    const out = await chat({ response_format: THINK_THEN_ANSWER })
    const { message, finish_reason } = out.choices[0]
    expect(finish_reason).toBe('stop')
    expect(message.reasoning_content).toMatch(/^[a-z]{3,8}$/)
    expect(message.reasoning).toBe(message.reasoning_content)
    expect(message.content).toMatch(/^[a-z]{2,6}$/) // markers gone, blanks after </think> stripped
    const { completion_tokens, completion_tokens_details } = out.usage
    expect(completion_tokens_details.reasoning_tokens).toBeGreaterThan(0)
    expect(completion_tokens_details.reasoning_tokens).toBeLessThan(completion_tokens)
  })

  it('streams reasoning deltas first, then content; joined they equal the non-streamed message', async () => {
    const body = { model, messages, max_tokens: 64, seed: 3, response_format: THINK_THEN_ANSWER } as any
    const plain = await t.client.chat.completions.create({ ...body, stream: false })
    const stream = (await t.client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } })) as unknown as AsyncIterable<any>
    const kinds: string[] = []
    let reasoning = ''
    let alias = ''
    let content = ''
    let usage: any = null
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage
      const delta = chunk.choices[0]?.delta as any
      if (!delta) continue
      if (delta.reasoning_content) {
        kinds.push('reasoning')
        reasoning += delta.reasoning_content
        alias += delta.reasoning
      }
      if (delta.content) {
        kinds.push('content')
        content += delta.content
      }
      for (const text of [delta.content, delta.reasoning_content]) if (text) expect(text).not.toMatch(/[<>]/)
    }
    const message = plain.choices[0]!.message as any
    expect(kinds.indexOf('content')).toBeGreaterThan(kinds.lastIndexOf('reasoning'))
    expect({ reasoning, alias, content }).toEqual({ reasoning: message.reasoning_content, alias: message.reasoning, content: message.content })
    expect(usage).toEqual(plain.usage)
  })

  it('include_reasoning false: the thoughts are generated and counted, not returned', async () => {
    const shown = await chat({ response_format: THINK_THEN_ANSWER })
    const hidden = await chat({ response_format: THINK_THEN_ANSWER, include_reasoning: false })
    expect(hidden.choices[0].message).not.toHaveProperty('reasoning_content')
    expect(hidden.choices[0].message).not.toHaveProperty('reasoning')
    expect(hidden.choices[0].message.content).toBe(shown.choices[0].message.content)
    expect(hidden.usage).toEqual(shown.usage)
    const streamed = await postJson(t.origin, '/v1/chat/completions', {
      model, messages, max_tokens: 64, seed: 3, response_format: THINK_THEN_ANSWER, include_reasoning: false, stream: true,
    })
    expect(streamed.text).not.toContain('reasoning_content')
    expect(streamed.text).not.toContain('"reasoning"')
  })

  it('a thought cut by max_tokens is all reasoning: content null, finish_reason length', async () => {
    const out = await chat({ response_format: grammar('root ::= "<think>" [a-z]{20,30} "</think>" [a-z]{2}'), max_tokens: 6 })
    const { message, finish_reason } = out.choices[0]
    expect(finish_reason).toBe('length')
    expect(message.content).toBeNull()
    expect(message.reasoning_content).toMatch(/^[a-z]+$/)
    expect(out.usage.completion_tokens_details.reasoning_tokens).toBe(out.usage.completion_tokens)
  })

  it('enable_thinking false (chat_template_kwargs / _args, or reasoning_effort none) takes the template branch', async () => {
    const base = await chat({ response_format: ANSWER_ONLY })
    const off = await chat({ response_format: ANSWER_ONLY, chat_template_kwargs: { enable_thinking: false } })
    expect(off.usage.prompt_tokens).toBeGreaterThan(base.usage.prompt_tokens)
    expect(off.choices[0].message.content).toMatch(/^[a-z]{2,6}$/)
    expect(off.choices[0].message).not.toHaveProperty('reasoning_content')
    expect(off.usage.completion_tokens_details.reasoning_tokens).toBe(0)
    const args = await chat({ response_format: ANSWER_ONLY, chat_template_args: { enable_thinking: false } })
    expect(args.usage.prompt_tokens).toBe(off.usage.prompt_tokens)
    const none = await chat({ response_format: ANSWER_ONLY, reasoning_effort: 'none' })
    expect(none.usage.prompt_tokens).toBe(off.usage.prompt_tokens)
    // The client's kwargs win over what reasoning_effort implies.
    const overridden = await chat({ response_format: ANSWER_ONLY, reasoning_effort: 'none', chat_template_kwargs: { enable_thinking: true } })
    expect(overridden.usage.prompt_tokens).toBe(base.usage.prompt_tokens)
    const high = await chat({ response_format: ANSWER_ONLY, reasoning_effort: 'high' })
    expect(high.usage.prompt_tokens).toBe(base.usage.prompt_tokens)
  })

  it('earlier thoughts (reasoning_content or reasoning) and documents reach the template', async () => {
    const history = (extra: Record<string, unknown>) => [...messages, { role: 'assistant', content: 'ok', ...extra }, { role: 'user', content: 'Again.' }]
    const without = await chat({ messages: history({}), max_tokens: 1 })
    const withThoughts = await chat({ messages: history({ reasoning_content: 'let me see' }), max_tokens: 1 })
    const withAlias = await chat({ messages: history({ reasoning: 'let me see' }), max_tokens: 1 })
    expect(withThoughts.usage.prompt_tokens).toBeGreaterThan(without.usage.prompt_tokens)
    expect(withAlias.usage.prompt_tokens).toBe(withThoughts.usage.prompt_tokens)
    const docs = await chat({ max_tokens: 1, documents: [{ title: 'Llamas', text: 'Llamas hum.' }] })
    const plain = await chat({ max_tokens: 1 })
    expect(docs.usage.prompt_tokens).toBeGreaterThan(plain.usage.prompt_tokens)
  })
})

describe('reasoning and tool calls', () => {
  const tools = [{ type: 'function', function: { name: 'get_time', description: 'The time now' } }]
  const lastOnly = '<|im_start|>user\n{{ messages[-1].content }}<|im_end|>\n<|im_start|>assistant\n<think>\n'

  it('the call grammar of a thinking model allows calls at once (the segment is optional)', async () => {
    // Without any token holding an `h` (byte fallback `<0x68>` included), `<think>` cannot be written:
    // the grammar must still allow the call.
    const noH = SPM_VOCAB.tokens.flatMap((token, id) => (token.includes('h') || token === '<0x68>' ? [id] : []))
    for (const seed of [1, 2]) {
      const out = await chat({ tools, tool_choice: 'required', seed, max_tokens: 60, bad_token_ids: noH })
      const { message, finish_reason } = out.choices[0]
      expect(finish_reason).toBe('tool_calls')
      expect(message.tool_calls).toEqual([expect.objectContaining({ type: 'function', function: { name: 'get_time', arguments: '{}' } })])
      expect(message.content).toBeNull()
    }
  })

  it('where the prompt opened the thought, forced calls wait for it to close (cut by length here: all reasoning)', async () => {
    for (const seed of [1, 2]) {
      const out = await chat({ chat_template: lastOnly, tools, tool_choice: 'required', seed, max_tokens: 40 })
      const { message, finish_reason } = out.choices[0]
      // Random weights do not close the thought within 40 tokens; the call grammar did not force the call inside it.
      expect(finish_reason).toBe('length')
      expect(message.content).toBeNull()
      expect(message.tool_calls).toBeUndefined()
      expect(message.reasoning_content).not.toContain('<tool_call>')
      expect(out.usage.completion_tokens_details.reasoning_tokens).toBe(out.usage.completion_tokens)
    }
  })
})

describe('chat template controls', () => {
  it('add_generation_prompt false leaves out the assistant header', async () => {
    const base = await chat({ max_tokens: 1 })
    const open = await chat({ max_tokens: 1, add_generation_prompt: false })
    expect(open.usage.prompt_tokens).toBeLessThan(base.usage.prompt_tokens)
  })

  it('continue_final_message continues the assistant text (an open thought stays reasoning)', async () => {
    const prefill = [...messages, { role: 'assistant', content: '<think>\nhmm' }]
    const closed = await chat({ messages: prefill, add_generation_prompt: false, max_tokens: 1 })
    const out = await chat({
      messages: prefill,
      continue_final_message: true,
      response_format: grammar('root ::= [a-z]{2,5} "</think>" "\\n\\n" [a-z]{2,4}'),
    })
    // The continued message is not closed: its end-of-turn (and what follows) is cut off.
    expect(out.usage.prompt_tokens).toBeLessThan(closed.usage.prompt_tokens)
    expect(out.choices[0].message.reasoning_content).toMatch(/^[a-z]{2,5}$/)
    expect(out.choices[0].message.content).toMatch(/^[a-z]{2,4}$/)
    // A plain answer continued: the output is content.
    const answer = await chat({
      messages: [...messages, { role: 'assistant', content: 'The answer is' }],
      continue_final_message: true,
      add_generation_prompt: false,
      chat_template_kwargs: { enable_thinking: false },
      response_format: ANSWER_ONLY,
    })
    expect(answer.choices[0].message.content).toMatch(/^[a-z]{2,6}$/)
  })

  it('a per-request chat_template replaces the model’s (and may open the thought itself)', async () => {
    const base = await chat({ max_tokens: 1 })
    const lastOnly = '<|im_start|>user\n{{ messages[-1].content }}<|im_end|>\n<|im_start|>assistant\n'
    const short = await chat({ max_tokens: 1, chat_template: lastOnly })
    expect(short.usage.prompt_tokens).toBeLessThan(base.usage.prompt_tokens)
    const thinking = await chat({ chat_template: `${lastOnly}<think>\n`, response_format: grammar('root ::= [a-z]{3,8} "</think>" [a-z]{2,6}') })
    expect(thinking.usage.prompt_tokens).toBeGreaterThan(short.usage.prompt_tokens)
    expect(thinking.choices[0].message.reasoning_content).toMatch(/^[a-z]{3,8}$/)
    expect(thinking.choices[0].message.content).toMatch(/^[a-z]{2,6}$/)
    // A template without <think> is a plain model's: no splitting.
    const plain = await chat({ chat_template: lastOnly, response_format: THINK_THEN_ANSWER })
    expect(plain.choices[0].message.content).toMatch(/^<think>[a-z]+<\/think>\n\n[a-z]+$/)
    expect(plain.choices[0].message).not.toHaveProperty('reasoning_content')
  })

  it('refuses what cannot be rendered with a 400 naming the parameter', async () => {
    await expect400({ chat_template: '{% if %}' }, 'chat_template')
    await expect400({ chat_template: '' }, 'chat_template')
    await expect400({ chat_template: "{{ raise_exception('no') }}" }, 'chat_template')
    await expect400({ continue_final_message: true, add_generation_prompt: true }, 'continue_final_message')
    await expect400({ continue_final_message: true }, 'continue_final_message') // the last message is the user's
    await expect400({ reasoning_effort: 'extreme' }, 'reasoning_effort')
    await expect400({ include_reasoning: 'no' }, 'include_reasoning')
    await expect400({ documents: ['just text'] }, 'documents[0]')
  })
})

import { describe, expect, it } from 'vitest'
import { ChatChunkEncoder, encodeChatCompletion, newResponseMeta } from '../src/api/codec/chat-response.js'
import { decodeChatRequest } from '../src/api/codec/chat-request.js'
import { foldEvents } from '../src/api/codec/fold-events.js'
import type { ChatCompletionRequest } from '../src/api/schemas/chat.js'
import { toolCallGrammar, textWithout } from '../src/constraints/tool-call-grammar.js'
import { COMMAND_R7B_FORMAT, HERMES_FORMAT, KIMI_K2_FORMAT, LLAMA3_JSON_FORMAT, MISTRAL_FORMAT } from '../src/engine/tool-call-formats.js'
import type { GenerationEvent } from '../src/generation/events.js'
import { InvalidRequestError } from '../src/errors.js'

const USAGE = { promptTokens: 5, completionTokens: 9, cachedTokens: 0 }
const EVENTS: GenerationEvent[] = [
  { type: 'started', promptTokens: 5, cachedTokens: 0, choices: 1 },
  { type: 'text', choice: 0, text: 'Checking.', tokens: 2 },
  { type: 'toolCallDelta', choice: 0, index: 0, id: 'call_a', name: 'f', argumentsDelta: '', tokens: 3 },
  { type: 'toolCallDelta', choice: 0, index: 0, argumentsDelta: '{"x": ', tokens: 2 },
  { type: 'toolCallDelta', choice: 0, index: 0, argumentsDelta: '1}', tokens: 1 },
  { type: 'toolCallDelta', choice: 0, index: 1, id: 'call_b', name: 'g', argumentsDelta: '', tokens: 1 },
  { type: 'toolCallDelta', choice: 0, index: 1, argumentsDelta: '{}', tokens: 1 },
  { type: 'finished', choice: 0, reason: 'tool_calls', stopReason: null, usage: USAGE },
]

async function* iterate(events: GenerationEvent[]) {
  yield* events
}

describe('tool calls in responses', () => {
  const meta = newResponseMeta('chatcmpl', 'm', 'fp')

  it('non-streamed: tool_calls with JSON-string arguments, content = text before the calls, finish_reason tool_calls', async () => {
    const body = encodeChatCompletion(await foldEvents(iterate(EVENTS)), meta)
    expect(body.choices[0]).toMatchObject({
      message: {
        role: 'assistant',
        content: 'Checking.',
        tool_calls: [
          { id: 'call_a', type: 'function', function: { name: 'f', arguments: '{"x": 1}' } },
          { id: 'call_b', type: 'function', function: { name: 'g', arguments: '{}' } },
        ],
      },
      finish_reason: 'tool_calls',
    })
    const noText = encodeChatCompletion(await foldEvents(iterate(EVENTS.filter((e) => e.type !== 'text'))), meta)
    expect(noText.choices[0]!.message.content).toBeNull()
  })

  it('streamed: first delta of a call has index, id, type, name and empty arguments; later ones index and arguments only', () => {
    const encoder = new ChatChunkEncoder(meta, false)
    const deltas = EVENTS.flatMap((e) => encoder.push(e)).flatMap((c) => c.choices.map((ch) => ch.delta.tool_calls)).filter(Boolean).flat()
    expect(deltas).toEqual([
      { index: 0, id: 'call_a', type: 'function', function: { name: 'f', arguments: '' } },
      { index: 0, function: { arguments: '{"x": ' } },
      { index: 0, function: { arguments: '1}' } },
      { index: 1, id: 'call_b', type: 'function', function: { name: 'g', arguments: '' } },
      { index: 1, function: { arguments: '{}' } },
    ])
  })
})

describe('decodeChatRequest: tools', () => {
  const decode = (extra: Record<string, unknown>) =>
    decodeChatRequest({ messages: [{ role: 'user', content: 'hi' }], ...extra } as ChatCompletionRequest, 'm', { maxChoices: 8, defaults: {}, trustRequestChatTemplate: false })
  const param = (extra: Record<string, unknown>) => {
    try {
      decode(extra)
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidRequestError)
      return (error as InvalidRequestError).param
    }
    throw new Error('expected a 400')
  }
  const tool = (name: string, parameters?: object) => ({ type: 'function', function: { name, ...(parameters ? { parameters } : {}) } })

  it('decodes tools, the default choice (auto), parallel calls and legacy functions', () => {
    expect(decode({ tools: [tool('f', { type: 'object' })] }).tools).toEqual({
      definitions: [{ name: 'f', parameters: { type: 'object' } }],
      choice: { kind: 'auto' },
      parallel: true,
    })
    expect(decode({ functions: [{ name: 'f' }], function_call: { name: 'f' }, parallel_tool_calls: false }).tools).toEqual({
      definitions: [{ name: 'f', parameters: null }],
      choice: { kind: 'named', name: 'f' },
      parallel: false,
    })
    expect(decode({ tools: [], tool_choice: 'auto' }).tools).toBeUndefined()
  })

  it('refuses with the right param', () => {
    expect(param({ tools: [tool('f')], tool_choice: 'maybe' })).toBe('tool_choice')
    expect(param({ tools: [tool('f')], tool_choice: { type: 'function', function: { name: 'g' } } })).toBe('tool_choice')
    expect(param({ tool_choice: 'required' })).toBe('tool_choice')
    expect(param({ tools: [tool('f'), tool('f')] })).toBe('tools[1]')
    expect(param({ tools: [tool('f', { type: 'object', properties: { a: { type: 'string', pattern: '(?=x)' } } })] })).toBe('tools[0].function.parameters')
    expect(param({ tools: [tool('f')], tool_choice: 'required', response_format: { type: 'json_object' } })).toBe('response_format')
  })
})

describe('toolCallGrammar', () => {
  const tools = { definitions: [{ name: 'f', parameters: { type: 'object', properties: { a: { type: 'integer' } } } }, { name: 'g', parameters: null }], parallel: true }

  it('has no grammar for none; required / named / auto differ in their root', () => {
    expect(toolCallGrammar(HERMES_FORMAT, { ...tools, choice: { kind: 'none' } })).toBeNull()
    expect(toolCallGrammar(HERMES_FORMAT, { ...tools, choice: { kind: 'required' } })).toMatch(/^root ::= tool-calls$/m)
    expect(toolCallGrammar(MISTRAL_FORMAT, { ...tools, choice: { kind: 'auto' } })).toMatch(/^root ::= tool-text-0 tool-calls\?$/m)
    expect(toolCallGrammar(LLAMA3_JSON_FORMAT, { ...tools, choice: { kind: 'auto' } })).toMatch(/^root ::= tool-calls \| tool-text \| ""$/m)
    const named = toolCallGrammar(HERMES_FORMAT, { ...tools, choice: { kind: 'named', name: 'g' } })!
    expect(named).not.toContain('\\"f\\"')
    expect(named).toMatch(/^tool-call-0 ::= "\{\\"name\\": \\"g\\", \\"arguments\\": " "\{\}" "\}"$/m)
  })

  it('named formats write the name as text before the arguments; JSON formats use their own keys', () => {
    const kimi = toolCallGrammar(KIMI_K2_FORMAT, { ...tools, choice: { kind: 'required' } })!
    expect(kimi).toMatch(/^tool-call-0 ::= "functions\.f" ":" \[0-9\]\+ "<\|tool_call_argument_begin\|>" /m)
    expect(kimi).toMatch(/^tool-calls ::= "<\|tool_calls_section_begin\|>" tool-call \( tool-call \)\* "<\|tool_calls_section_end\|>"$/m)
    expect(toolCallGrammar(COMMAND_R7B_FORMAT, { ...tools, choice: { kind: 'required' } })).toContain('"{\\"tool_name\\": \\"f\\", \\"parameters\\": "')
  })

  it('textWithout: one state per marker prefix, never reaching the whole marker', () => {
    const rules = textWithout('<ab>', 'x')
    expect(rules).toHaveLength(4)
    expect(rules.join('\n')).not.toContain('x-4')
  })
})

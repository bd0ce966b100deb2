import { describe, expect, it } from 'vitest'
import {
  APERTUS_FORMAT,
  COMMAND_R7B_FORMAT,
  DEEPSEEK_R1_FORMAT,
  FUNCTIONARY_V31_FORMAT,
  HERMES_FORMAT,
  KIMI_K2_FORMAT,
  LLAMA3_JSON_FORMAT,
  MISTRAL_FORMAT,
  MISTRAL_V11_FORMAT,
  detectToolCallFormat,
  type ToolCallFormat,
} from '../src/engine/tool-call-formats.js'
import { ToolCallParser, type ToolParseEvent } from '../src/engine/tool-call-parser.js'

interface Parsed {
  content: string
  calls: Array<{ name: string; arguments: string }>
  /** Events in order, merged per kind, to compare orderings too. */
  order: string[]
}

function fold(events: ToolParseEvent[]): Parsed {
  const parsed: Parsed = { content: '', calls: [], order: [] }
  for (const event of events) {
    if (event.type === 'content') {
      parsed.content += event.text
      if (parsed.order.at(-1) !== 'content') parsed.order.push('content')
    } else if (event.type === 'call') {
      expect(event.index).toBe(parsed.calls.length)
      parsed.calls.push({ name: event.name, arguments: '' })
      parsed.order.push(`call ${event.index}`)
    } else {
      expect(event.index).toBe(parsed.calls.length - 1)
      parsed.calls[event.index]!.arguments += event.text
    }
  }
  return parsed
}

function parseChunks(format: ToolCallFormat, chunks: string[]): { parsed: Parsed; events: ToolParseEvent[] } {
  const parser = new ToolCallParser(format)
  const events = [...chunks.flatMap((c) => parser.push(c)), ...parser.finish()]
  return { parsed: fold(events), events }
}

/** Every way of cutting `text` in two, in three at a fixed stride, and one character at a time. */
function splits(text: string): string[][] {
  const out: string[][] = [[text], [...text]]
  for (let i = 0; i <= text.length; i++) out.push([text.slice(0, i), text.slice(i)])
  for (let i = 0; i <= text.length; i += 3) for (let j = i; j <= text.length; j += 7) out.push([text.slice(0, i), text.slice(i, j), text.slice(j)])
  return out
}

function expectSplitInvariant(format: ToolCallFormat, text: string, expected: Omit<Parsed, 'order'>, markers: string[]) {
  for (const chunks of splits(text)) {
    const { parsed, events } = parseChunks(format, chunks)
    expect({ content: parsed.content, calls: parsed.calls }, JSON.stringify(chunks)).toEqual(expected)
    for (const event of events) {
      if (event.type !== 'content') continue
      for (const marker of markers) expect(event.text).not.toContain(marker)
    }
    // The first event of each call comes before any of its arguments; content comes before calls.
    expect(parsed.order.indexOf('content')).toBeLessThanOrEqual(0)
  }
  for (const call of expected.calls) expect(() => JSON.parse(call.arguments)).not.toThrow()
}

const weather = { name: 'get_weather', arguments: '{"city": "Paris", "days": [1, 2], "note": "a } \\" { ]"}' }
const time = { name: 'get_time', arguments: '{}' }

describe('ToolCallParser', () => {
  it('hermes: text, then several calls, split anywhere', () => {
    const text =
      'Let me check <tool <tool_call\n' +
      `<tool_call>\n{"name": "get_weather", "arguments": ${weather.arguments}}\n</tool_call>\n` +
      `<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>`
    expectSplitInvariant(HERMES_FORMAT, text, { content: 'Let me check <tool <tool_call\n', calls: [weather, time] }, ['<tool_call>', '</tool_call>'])
  })

  it('hermes: only a call, and no content at all', () => {
    const text = `<tool_call>\n{"name": "get_weather", "arguments": ${weather.arguments}}\n</tool_call>`
    expectSplitInvariant(HERMES_FORMAT, text, { content: '', calls: [weather] }, ['<tool_call>'])
  })

  it('hermes: text without a call is all content, a trailing marker prefix included', () => {
    expectSplitInvariant(HERMES_FORMAT, 'plain text <tool_ca', { content: 'plain text <tool_ca', calls: [] }, [])
  })

  it('mistral: [TOOL_CALLS] list of calls', () => {
    const text = `Sure.[TOOL_CALLS][{"name": "get_weather", "arguments": ${weather.arguments}}, {"name": "get_time", "arguments": {}}]`
    expectSplitInvariant(MISTRAL_FORMAT, text, { content: 'Sure.', calls: [weather, time] }, ['[TOOL_CALLS]', '[TOOL'])
  })

  it('llama3-json: bare calls with "parameters", or text that does not start with {', () => {
    const text = `{"name": "get_weather", "parameters": ${weather.arguments}}\n{"name": "get_time", "parameters": {}}`
    expectSplitInvariant(LLAMA3_JSON_FORMAT, text, { content: '', calls: [weather, time] }, ['"parameters"'])
    expectSplitInvariant(LLAMA3_JSON_FORMAT, '  \nHello {"name": "x"}', { content: '  \nHello {"name": "x"}', calls: [] }, [])
  })

  it('command-r7b: a JSON list with tool_name / parameters and an id key first', () => {
    const text = `Ok.<|START_ACTION|>[\n    {"tool_call_id": "0", "tool_name": "get_weather", "parameters": ${weather.arguments}},\n    {"tool_call_id": "1", "tool_name": "get_time", "parameters": {}}\n]<|END_ACTION|>`
    expectSplitInvariant(COMMAND_R7B_FORMAT, text, { content: 'Ok.', calls: [weather, time] }, ['<|START_ACTION|>'])
  })

  it('named formats: the name as text, then the arguments object, split anywhere', () => {
    const cases: Array<[ToolCallFormat, string]> = [
      [MISTRAL_V11_FORMAT, `[TOOL_CALLS]get_weather[ARGS]${weather.arguments}[TOOL_CALLS]get_time[CALL_ID]a1B2c3D4e[ARGS]{}`],
      [
        KIMI_K2_FORMAT,
        `<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>${weather.arguments}<|tool_call_end|>` +
          '<|tool_call_begin|>functions.get_time:1<|tool_call_argument_begin|>{}<|tool_call_end|><|tool_calls_section_end|>',
      ],
      [FUNCTIONARY_V31_FORMAT, `<function=get_weather>${weather.arguments}</function><function=get_time>{}</function>`],
      [
        DEEPSEEK_R1_FORMAT,
        `<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n\`\`\`json\n${weather.arguments}\n\`\`\`<｜tool▁call▁end｜>\n` +
          '<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n```json\n{}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>',
      ],
      [APERTUS_FORMAT, `<|tools_prefix|>[{"get_weather": ${weather.arguments}}, {"get_time": {}}]<|tools_suffix|>`],
    ]
    for (const [format, calls] of cases) {
      expectSplitInvariant(format, `Checking {x}: ${calls}`, { content: 'Checking {x}: ', calls: [weather, time] }, [format.marker!])
    }
  })

  it('a call without arguments gets {}; keys in any order and extra keys are handled', () => {
    expectSplitInvariant(HERMES_FORMAT, '<tool_call>\n{"name": "get_time"}\n</tool_call>', { content: '', calls: [time] }, [])
    const reordered = `<tool_call>{"id": 3, "arguments": {"a": [1, {"b": "}"}]}, "name": "f"}</tool_call>`
    expectSplitInvariant(HERMES_FORMAT, reordered, { content: '', calls: [{ name: 'f', arguments: '{"a": [1, {"b": "}"}]}' }] }, [])
  })

  it('whole-token feeding (multi-character deltas) gives the same result as characters', () => {
    const text = `Hi<tool_call>\n{"name": "get_weather", "arguments": ${weather.arguments}}\n</tool_call>`
    const tokens = text.match(/.{1,4}/gs)!
    expect(parseChunks(HERMES_FORMAT, tokens).parsed).toEqual(parseChunks(HERMES_FORMAT, [...text]).parsed)
  })

  it('the first event of a call carries the name, before any argument text', () => {
    const parser = new ToolCallParser(HERMES_FORMAT)
    expect(parser.push('<tool_call>\n{"name": "get_')).toEqual([])
    expect(parser.push('time", "arguments": {')).toEqual([
      { type: 'call', index: 0, name: 'get_time' },
      { type: 'arguments', index: 0, text: '{' },
    ])
    expect(parser.push('}}\n</tool_call>')).toEqual([{ type: 'arguments', index: 0, text: '}' }])
    expect(parser.finish()).toEqual([])
    expect(parser.calls).toBe(1)
  })
})

describe('detectToolCallFormat', () => {
  it('reads the format from the template text', () => {
    expect(detectToolCallFormat('{% if tools %}<tool_call>{% endif %}').id).toBe('hermes')
    expect(detectToolCallFormat('[TOOL_CALLS]{{ x }}').id).toBe('mistral')
    expect(detectToolCallFormat('<|python_tag|>').id).toBe('llama3-json')
    expect(detectToolCallFormat('{"name": function name, "parameters": dictionary of argument name and its value}').id).toBe('llama3-json')
    expect(detectToolCallFormat('{{ messages }}').id).toBe('hermes')
    expect(detectToolCallFormat(null).id).toBe('hermes')
  })
})

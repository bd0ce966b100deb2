import { beforeAll, describe, expect, it } from 'vitest'
import { ChatTemplate } from '../src/engine/chat-template.js'
import { recognizeToolCallFormat, type ToolCallFormatId } from '../src/engine/tool-call-formats.js'
import { ToolCallParser } from '../src/engine/tool-call-parser.js'
import type { ChatMessage } from '../src/generation/request.js'
import { BOS, CALL_ID, EOS, WEATHER_TOOL, haveCorpus, loadTemplateCorpus } from './helpers/template-corpus.js'

/**
 * The tool-call format of every template in llama.cpp's corpus that knows tools: read by one of our
 * parsers, or listed as falling back to Hermes (the grammar then makes the model write Hermes calls).
 * Each read format round-trips: a call the template renders into history parses back to the same call.
 */

const FALLBACK = 'fallback'

/** Every tool-aware template: its format, or why it falls back. */
const EXPECTED: Record<string, ToolCallFormatId | `${typeof FALLBACK}: ${string}`> = {
  'Apertus-8B-Instruct': 'apertus',
  'Apriel-1.6-15b-Thinker-fixed': 'apriel',
  'Bielik-11B-v3.0-Instruct': 'hermes',
  'ByteDance-Seed-OSS': 'fallback: XML arguments (<function=…><parameter=…>)',
  Cohere2MoE: 'command-r7b',
  'CohereForAI-c4ai-command-r-plus-tool_use': 'fallback: "Action: ```json" lists; the template cannot render past calls (both renderers reject)',
  'CohereForAI-c4ai-command-r7b-12-2024-tool_use': 'command-r7b',
  'GLM-4.6': 'fallback: XML arguments (<arg_key>/<arg_value>)',
  'GLM-4.7-Flash': 'fallback: XML arguments (<arg_key>/<arg_value>)',
  'GigaChat3-10B-A1.8B': 'fallback: calls are a separate "function call" role turn',
  'GigaChat3.1-10B-A1.8B': 'gigachat',
  'Kimi-K2-Instruct': 'kimi-k2',
  'Kimi-K2-Thinking': 'kimi-k2',
  'Kimi-K3': 'fallback: XML-like <|open|>call/argument blocks',
  'LFM2-8B-A1B': 'fallback: Python-call syntax (<|tool_call_start|>[f(a=1)])',
  'LFM2.5-8B-A1B': 'fallback: Python-call syntax (<|tool_call_start|>[f(a=1)])',
  'LFM2.5-Instruct': 'fallback: Python-call syntax (<|tool_call_start|>[f(a=1)])',
  'MiMo-VL': 'hermes',
  'MiniMax-M1': 'minimax-m1',
  'MiniMax-M2': 'fallback: XML arguments (<invoke name=…><parameter name=…>)',
  'MiniMax-M3': 'fallback: XML arguments (<invoke name=…>)',
  'Mistral-Small-3.2-24B-Instruct-2506': 'mistral-v11',
  'NVIDIA-Nemotron-3-Nano-30B-A3B-BF16': 'fallback: XML arguments (<function=…><parameter=…>)',
  'NVIDIA-Nemotron-Nano-v2': 'nemotron',
  'NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use': 'hermes',
  'NousResearch-Hermes-3-Llama-3.1-8B-tool_use': 'hermes',
  'Qwen-QwQ-32B': 'hermes',
  'Qwen-Qwen2.5-7B-Instruct': 'hermes',
  'Qwen-Qwen3-0.6B': 'hermes',
  'Qwen3-Coder': 'fallback: XML arguments (<function=…><parameter=…>)',
  'Qwen3.5-4B': 'fallback: XML arguments (<function=…><parameter=…>)',
  'Reka-Edge': 'hermes',
  'Spark2.5': 'fallback: XML arguments (<arg_key>/<arg_value>)',
  'StepFun3.5-Flash': 'fallback: XML arguments (<function=…><parameter=…>)',
  'deepseek-ai-DeepSeek-V3.2': 'fallback: XML arguments (DSML <invoke>)',
  'deepseek-ai-DeepSeek-V4': 'fallback: XML arguments (DSML <invoke>)',
  'deepseek-ai-DeepSeek-V4-Flash-0731': 'fallback: XML arguments (DSML <invoke>)',
  'google-gemma-4-31B-it': 'fallback: Gemma 4 call syntax (call:f{a:<|"|>…<|"|>})',
  'google-gemma-4-31B-it-interleaved': 'fallback: Gemma 4 call syntax (call:f{a:<|"|>…<|"|>})',
  'ibm-granite-granite-3.3-2B-Instruct': 'granite',
  'ibm-granite-granite-4.0': 'hermes',
  'ibm-granite-granite-4.1': 'hermes',
  'inclusionai-ling-3.0-flash': 'fallback: XML arguments (<arg_key>/<arg_value>)',
  'llama-cpp-deepseek-r1': 'deepseek-r1',
  'meetkai-functionary-medium-v3.1': 'functionary-v3.1',
  'meetkai-functionary-medium-v3.2': 'fallback: the generation prompt opens ">>>" itself and "all" marks plain content',
  'meta-llama-Llama-3.1-8B-Instruct': 'llama3-json',
  'meta-llama-Llama-3.2-3B-Instruct': 'llama3-json',
  'meta-llama-Llama-3.3-70B-Instruct': 'llama3-json',
  'mistralai-Ministral-3-14B-Reasoning-2512': 'mistral-v11',
  'mistralai-Mistral-Nemo-Instruct-2407': 'mistral',
  'moonshotai-Kimi-K2': 'kimi-k2',
  'muse-glimmer': 'fallback: XML arguments (<atem:invoke>)',
  'openai-gpt-oss-120b': 'fallback: Harmony channels (to=functions.f <|channel|>commentary)',
  'openbmb-MiniCPM5-1B': 'fallback: XML arguments (<function name=…><param name=…>)',
  'poolside-Laguna-S-2.1': 'fallback: XML arguments (<arg_key>/<arg_value>)',
  'poolside-Laguna-XS-2.1': 'fallback: XML arguments (<arg_key>/<arg_value>)',
  'poolside-Laguna-XS.2': 'fallback: XML arguments (<arg_key>/<arg_value>)',
  'tencent-Hy3': 'fallback: XML arguments (<arg_key>/<arg_value>)',
  'unsloth-Apriel-1.5': 'apriel',
  'unsloth-mistral-Devstral-Small-2507': 'mistral-v11',
  'upstage-Solar-Open-100B': 'fallback: a call id precedes the name (<|tool_call:begin|>id<|tool_call:name|>f)',
  'fireworks-ai-llama-3-firefunction-v2': 'fallback: reads a "functions" variable, not tools (both renderers reject without it)',
}

/** Templates whose tool-call history does not render in either renderer (see chat-template-fidelity.test.ts). */
const NO_HISTORY = new Set(['fireworks-ai-llama-3-firefunction-v2', 'CohereForAI-c4ai-command-r-plus-tool_use'])

/**
 * Granite 3.3 drops past calls from history; its system prompt teaches the format instead ("respond
 * only with <|tool_call|> followed by a JSON list of tools used"), so that is what round-trips.
 */
const TAUGHT_ONLY: Record<string, { teaches: string; call: string }> = {
  'ibm-granite-granite-3.3-2B-Instruct': {
    teaches: '<|tool_call|> followed by a JSON list',
    call: '<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}]',
  },
}

const ARGUMENTS = { city: 'Paris', unit: 'celsius' }
const USER: ChatMessage = { role: 'user', content: 'Weather in Paris?' }
const CALL: ChatMessage = { role: 'assistant', content: '', toolCalls: [{ id: CALL_ID, name: 'get_weather', arguments: ARGUMENTS }] }

describe.skipIf(!haveCorpus())('tool-call formats of the template corpus', () => {
  let toolTemplates: Map<string, string>

  beforeAll(() => {
    // As the renderer decides (prompt-renderer.ts): a template knows tools when it mentions them.
    toolTemplates = new Map([...loadTemplateCorpus()].filter(([, source]) => /\btools\b/.test(source)))
  }, 120_000)

  it('maps every tool-aware template to a parser, or lists it as falling back', () => {
    const actual = Object.fromEntries([...toolTemplates].map(([name, source]) => [name, recognizeToolCallFormat(source)?.id ?? FALLBACK]))
    const expected = Object.fromEntries(Object.keys(actual).map((name) => [name, EXPECTED[name]?.startsWith(FALLBACK) ? FALLBACK : EXPECTED[name]]))
    expect(actual).toEqual(expected)
  })

  it('parses back the call each template renders into history, for every format it reads', () => {
    const formats = new Set<string>()
    for (const [name, source] of toolTemplates) {
      const format = recognizeToolCallFormat(source)
      if (!format || NO_HISTORY.has(name)) continue
      const taught = TAUGHT_ONLY[name]
      if (taught) expect(source).toContain(taught.teaches)
      const segment = taught?.call ?? assistantTurn(new ChatTemplate(source))
      const parser = new ToolCallParser(format)
      const events = [...[...segment].flatMap((c) => parser.push(c)), ...parser.finish()]
      const calls = events.filter((e) => e.type === 'call').map((e) => e.name)
      const args = events.flatMap((e) => (e.type === 'arguments' ? [e.text] : [])).join('')
      expect(calls, `${name}: ${JSON.stringify(segment)}`).toEqual(['get_weather'])
      expect(JSON.parse(args), name).toEqual(ARGUMENTS)
      formats.add(format.id)
    }
    // Every format we read has a template here that round-trips.
    expect([...formats].sort()).toEqual(
      [...new Set(Object.values(EXPECTED).filter((v) => !v.startsWith(FALLBACK)))].sort(),
    )
  })
})

/** The assistant's turn as the template writes it: the history render past the generation prompt. */
function assistantTurn(template: ChatTemplate): string {
  const render = (messages: ChatMessage[], addGenerationPrompt: boolean) =>
    template.render({
      messages,
      tools: [WEATHER_TOOL],
      options: { source: null, variables: {}, variablesParam: 'chat_template_kwargs', reasoningEffort: null, addGenerationPrompt, continueFinalMessage: false, documents: null },
      bosToken: BOS,
      eosToken: EOS,
    })
  const prompt = render([USER], true)
  const history = render([USER, CALL], false)
  if (history.startsWith(prompt)) return history.slice(prompt.length)
  // Thinking templates differ in the open think block; the turn follows the user's message then.
  return history.slice(history.lastIndexOf(USER.content) + USER.content.length)
}

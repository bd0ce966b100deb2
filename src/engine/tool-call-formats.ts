/**
 * How a model family writes tool calls, as plain strings: the grammar that enforces calls and the parser
 * that reads them back are both built from one of these descriptors, so they cannot disagree.
 *
 * A call's body is one of two shapes:
 *
 *   json   {"<nameKey>": "<tool>", "<argumentsKey>": {...}}       (other keys, e.g. an id, are skipped)
 *   named  <namePrefix><tool>[:<n>]<nameClose>{...}               (the name as text, then the arguments)
 *
 * and the formats differ in what surrounds the calls, e.g.:
 *
 *   hermes        <tool_call>\n{"name": …, "arguments": …}\n</tool_call>\n<tool_call>\n…\n</tool_call>
 *   llama3-json   {"name": …, "parameters": …}\n{"name": …, "parameters": …}
 *   mistral       [TOOL_CALLS][{"name": …, "arguments": …}, {"name": …, "arguments": …}]
 *   mistral-v11   [TOOL_CALLS]get_weather[ARGS]{…}[TOOL_CALLS]get_time[ARGS]{…}
 *   kimi-k2       <|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>{…}<|tool_call_end|>…
 */
export interface ToolCallFormat {
  id: ToolCallFormatId
  /** Written before the first call ('' when calls start bare). */
  begin: string
  /** Written before every call (after `begin` for the first). */
  callOpen: string
  /** Written after every call. */
  callClose: string
  /** Written between two calls, after the first's `callClose`. */
  separator: string
  /** Written after the last call. */
  end: string
  body: JsonBody | NamedBody
  /**
   * Where calls start in free text: the first occurrence of `marker` (which must have no border, i.e.
   * no proper prefix that is also a suffix, so text before it can never run into it, and must begin
   * `begin + callOpen`), or, when `marker` is null, a `{` as the output's first non-blank character.
   */
  marker: string | null
}

export type ToolCallFormatId =
  | 'hermes'
  | 'llama3-json'
  | 'mistral'
  | 'mistral-v11'
  | 'granite'
  | 'apriel'
  | 'minimax-m1'
  | 'nemotron'
  | 'gigachat'
  | 'command-r7b'
  | 'apertus'
  | 'kimi-k2'
  | 'functionary-v3.1'
  | 'deepseek-r1'

export interface JsonBody {
  kind: 'json'
  /** The key holding the function's name. */
  nameKey: 'name' | 'tool_name'
  /** The key holding the arguments object. */
  argumentsKey: 'arguments' | 'parameters'
}

export interface NamedBody {
  kind: 'named'
  /** Written before the name (e.g. Kimi's `functions.`). */
  namePrefix: string
  /** The name is followed by `:<call index>` (Kimi). */
  indexSuffix: boolean
  /** Ends the name; the arguments object follows. */
  nameClose: string
  /** Text in the name segment from here on is a call id the model wrote (Mistral's `[CALL_ID]`), not the name. */
  idMarker: string | null
}

const HERMES_JSON: JsonBody = { kind: 'json', nameKey: 'name', argumentsKey: 'arguments' }

function named(nameClose: string, extra: Partial<NamedBody> = {}): NamedBody {
  return { kind: 'named', namePrefix: '', indexSuffix: false, nameClose, idMarker: null, ...extra }
}

/** A JSON list of calls after a marker (Mistral, Granite, Apriel, Nemotron, Command R7B). */
function jsonList(id: ToolCallFormatId, begin: string, end: string, body: JsonBody = HERMES_JSON, separator = ', '): ToolCallFormat {
  return { id, begin, callOpen: '', callClose: '', separator, end, body, marker: begin.replace(/\[$/, '') }
}

export const HERMES_FORMAT: ToolCallFormat = {
  id: 'hermes',
  begin: '',
  callOpen: '<tool_call>\n',
  callClose: '\n</tool_call>',
  separator: '\n',
  end: '',
  body: HERMES_JSON,
  marker: '<tool_call>',
}

export const LLAMA3_JSON_FORMAT: ToolCallFormat = {
  id: 'llama3-json',
  begin: '',
  callOpen: '',
  callClose: '',
  separator: '\n',
  end: '',
  body: { kind: 'json', nameKey: 'name', argumentsKey: 'parameters' },
  marker: null,
}

export const MISTRAL_FORMAT: ToolCallFormat = jsonList('mistral', '[TOOL_CALLS][', ']')

/** Mistral's tokenizer v11+ (Mistral Small 3.2, Ministral 3, Devstral): one `[TOOL_CALLS]name[ARGS]{…}` per call. */
export const MISTRAL_V11_FORMAT: ToolCallFormat = {
  id: 'mistral-v11',
  begin: '',
  callOpen: '[TOOL_CALLS]',
  callClose: '',
  separator: '',
  end: '',
  body: named('[ARGS]', { idMarker: '[CALL_ID]' }),
  marker: '[TOOL_CALLS]',
}

export const GRANITE_FORMAT = jsonList('granite', '<|tool_call|>[', ']')
export const APRIEL_FORMAT = jsonList('apriel', '<tool_calls>[', ']</tool_calls>')
export const NEMOTRON_FORMAT = jsonList('nemotron', '<TOOLCALL>[', ']</TOOLCALL>')
export const COMMAND_R7B_FORMAT = jsonList('command-r7b', '<|START_ACTION|>[', ']<|END_ACTION|>', {
  kind: 'json',
  nameKey: 'tool_name',
  argumentsKey: 'parameters',
})
export const MINIMAX_M1_FORMAT: ToolCallFormat = { ...jsonList('minimax-m1', '<tool_calls>\n', '\n</tool_calls>', HERMES_JSON, '\n'), marker: '<tool_calls>' }
/** GigaChat 3.1: one call per turn. */
export const GIGACHAT_FORMAT: ToolCallFormat = { ...jsonList('gigachat', '<|function_call|>', ''), separator: '' }

/** Apertus: `[{"get_weather": {…}}]`, the name as the key. */
export const APERTUS_FORMAT: ToolCallFormat = {
  id: 'apertus',
  begin: '<|tools_prefix|>[',
  callOpen: '{"',
  callClose: '}',
  separator: ', ',
  end: ']<|tools_suffix|>',
  body: named('": '),
  marker: '<|tools_prefix|>',
}

export const KIMI_K2_FORMAT: ToolCallFormat = {
  id: 'kimi-k2',
  begin: '<|tool_calls_section_begin|>',
  callOpen: '<|tool_call_begin|>',
  callClose: '<|tool_call_end|>',
  separator: '',
  end: '<|tool_calls_section_end|>',
  body: named('<|tool_call_argument_begin|>', { namePrefix: 'functions.', indexSuffix: true }),
  marker: '<|tool_calls_section_begin|>',
}

export const FUNCTIONARY_V31_FORMAT: ToolCallFormat = {
  id: 'functionary-v3.1',
  begin: '',
  callOpen: '<function=',
  callClose: '</function>',
  separator: '',
  end: '',
  body: named('>'),
  marker: '<function=',
}

export const DEEPSEEK_R1_FORMAT: ToolCallFormat = {
  id: 'deepseek-r1',
  begin: '<｜tool▁calls▁begin｜>',
  callOpen: '<｜tool▁call▁begin｜>function<｜tool▁sep｜>',
  callClose: '\n```<｜tool▁call▁end｜>',
  separator: '\n',
  end: '<｜tool▁calls▁end｜>',
  body: named('\n```json\n'),
  marker: '<｜tool▁calls▁begin｜>',
}

/**
 * The format a chat template teaches its model, judged by the template text (most specific first);
 * null when it is none we read (e.g. XML arguments, Harmony channels): see `detectToolCallFormat`.
 */
export function recognizeToolCallFormat(template: string): ToolCallFormat | null {
  if (template.includes('<|tool_call_argument_begin|>')) return KIMI_K2_FORMAT
  if (template.includes('[ARGS]')) return MISTRAL_V11_FORMAT
  if (template.includes('[TOOL_CALLS]')) return MISTRAL_FORMAT
  if (template.includes('<|START_ACTION|>')) return COMMAND_R7B_FORMAT
  if (template.includes('<|tools_prefix|>')) return APERTUS_FORMAT
  if (template.includes('<TOOLCALL>')) return NEMOTRON_FORMAT
  if (template.includes('<|function_call|>')) return GIGACHAT_FORMAT
  if (template.includes('<|tool_call|>')) return GRANITE_FORMAT
  if (template.includes('<tool_calls>[')) return APRIEL_FORMAT
  if (template.includes('<tool_calls>') && !template.includes('<invoke')) return MINIMAX_M1_FORMAT
  if (template.includes('<｜tool▁sep｜>') && template.includes('```json')) return DEEPSEEK_R1_FORMAT
  // XML-argument families also write `<tool_call>` or `<function=`; their arguments are not JSON.
  if (/<function=|<parameter=|<arg_key>|<invoke|<function name=/.test(template)) {
    return template.includes('<function=') && !template.includes('<parameter=') && !template.includes('<tool_call>') ? FUNCTIONARY_V31_FORMAT : null
  }
  if (template.includes('<tool_call>')) return HERMES_FORMAT
  if (template.includes('<|python_tag|>') || /"parameters"\s*:\s*(dictionary|dict|\{)/.test(template)) return LLAMA3_JSON_FORMAT
  return null
}

/**
 * The format calls are enforced and read in: the template's own (see `recognizeToolCallFormat`), else
 * Hermes, which the fallback system prompt teaches templates that do not know tools, and which the
 * grammar makes a model of an unread format write.
 */
export function detectToolCallFormat(template: string | null): ToolCallFormat {
  return (template && recognizeToolCallFormat(template)) || HERMES_FORMAT
}

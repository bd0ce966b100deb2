/**
 * How a model family writes tool calls, as plain strings: the grammar that enforces calls and the parser
 * that reads them back are both built from one of these descriptors, so they cannot disagree.
 *
 * A call's body is always `{"name": "<tool>", "<argumentsKey>": {...}}`; the formats differ in what
 * surrounds the calls:
 *
 *   hermes       <tool_call>\n{"name": …, "arguments": …}\n</tool_call>\n<tool_call>\n…\n</tool_call>
 *   llama3-json  {"name": …, "parameters": …}\n{"name": …, "parameters": …}
 *   mistral      [TOOL_CALLS][{"name": …, "arguments": …}, {"name": …, "arguments": …}]
 */
export interface ToolCallFormat {
  id: 'hermes' | 'llama3-json' | 'mistral'
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
  /** The key holding the arguments object. */
  argumentsKey: 'arguments' | 'parameters'
  /**
   * Where calls start in free text: the first occurrence of `marker` (which must have no border, i.e.
   * no proper prefix that is also a suffix, so text before it can never run into it), or, when
   * `marker` is null, a `{` as the output's first non-blank character.
   */
  marker: string | null
}

export const HERMES_FORMAT: ToolCallFormat = {
  id: 'hermes',
  begin: '',
  callOpen: '<tool_call>\n',
  callClose: '\n</tool_call>',
  separator: '\n',
  end: '',
  argumentsKey: 'arguments',
  marker: '<tool_call>',
}

export const LLAMA3_JSON_FORMAT: ToolCallFormat = {
  id: 'llama3-json',
  begin: '',
  callOpen: '',
  callClose: '',
  separator: '\n',
  end: '',
  argumentsKey: 'parameters',
  marker: null,
}

export const MISTRAL_FORMAT: ToolCallFormat = {
  id: 'mistral',
  begin: '[TOOL_CALLS][',
  callOpen: '',
  callClose: '',
  separator: ', ',
  end: ']',
  argumentsKey: 'arguments',
  marker: '[TOOL_CALLS]',
}

/**
 * The format a chat template teaches its model, judged by the template text: `<tool_call>` (Hermes,
 * Qwen), `[TOOL_CALLS]` (Mistral), `<|python_tag|>` or Llama 3.1/3.2's `"parameters"` JSON convention;
 * anything else (and templates that know no tools) gets Hermes, which the fallback system prompt teaches.
 */
export function detectToolCallFormat(template: string | null): ToolCallFormat {
  if (!template) return HERMES_FORMAT
  if (template.includes('<tool_call>')) return HERMES_FORMAT
  if (template.includes('[TOOL_CALLS]')) return MISTRAL_FORMAT
  if (template.includes('<|python_tag|>') || /"parameters"\s*:\s*(dictionary|dict|\{)/.test(template)) {
    return LLAMA3_JSON_FORMAT
  }
  return HERMES_FORMAT
}

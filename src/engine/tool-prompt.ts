import type { ChatMessage, ToolDefinition } from '../generation/request.js'

/**
 * Tools for chat templates that do not know them (no `tools` in the template): the tool list goes into
 * the system message as JSON with instructions for the Hermes call format (the format such models are
 * then parsed in), and past calls and results become text in that format, so every template renders them.
 */
export function inlineTools(messages: readonly ChatMessage[], tools: readonly ToolDefinition[] | null): ChatMessage[] {
  const out = messages.map(inlineToolTurn)
  if (!tools || tools.length === 0) return out
  const prompt = toolsSystemPrompt(tools)
  const first = out[0]
  if (first?.role === 'system') out[0] = { ...first, content: `${first.content}\n\n${prompt}` }
  else out.unshift({ role: 'system', content: prompt })
  return out
}

function toolsSystemPrompt(tools: readonly ToolDefinition[]): string {
  const list = tools.map((t) => JSON.stringify(hfTool(t))).join('\n')
  return (
    'You may call one or more functions to assist with the user query. The functions, with JSON Schemas of their arguments:\n' +
    `<tools>\n${list}\n</tools>\n\n` +
    'To call a function, write one block per call:\n<tool_call>\n{"name": <function-name>, "arguments": <arguments-json-object>}\n</tool_call>'
  )
}

function inlineToolTurn(message: ChatMessage): ChatMessage {
  if (message.role === 'assistant' && message.toolCalls?.length) {
    const calls = message.toolCalls.map((c) => `<tool_call>\n${JSON.stringify({ name: c.name, arguments: c.arguments })}\n</tool_call>`)
    return { role: 'assistant', content: [message.content, ...calls].filter(Boolean).join('\n') }
  }
  if (message.role === 'tool') return { role: 'user', content: `<tool_response>\n${message.content}\n</tool_response>` }
  return message
}

/** A tool as Hugging Face chat templates take it (`tools` variable). */
export function hfTool(tool: ToolDefinition): { type: 'function'; function: Record<string, unknown> } {
  return {
    type: 'function',
    function: {
      name: tool.name,
      ...(tool.description !== undefined ? { description: tool.description } : {}),
      parameters: tool.parameters ?? { type: 'object', properties: {} },
    },
  }
}

import { InvalidRequestError } from '../../errors.js'
// Pure converter: converting here lets an unenforceable keyword in a tool's parameters fail as a 400.
import { schemaConstraint } from '../../constraints/schema-constraint.js'
import { asObjectSchema } from '../../constraints/tool-call-grammar.js'
import type { ToolCallRecord, ToolChoice, ToolDefinition, ToolOptions } from '../../generation/request.js'
import type { ChatCompletionRequest } from '../schemas/chat.js'

/** OpenAI's rule for function names. */
const NAME = /^[a-zA-Z0-9_-]{1,64}$/

type Json = Record<string, unknown>

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * `tools`, `tool_choice`, `parallel_tool_calls` (and the legacy `functions` / `function_call`, mapped to
 * them) → the engine's ToolOptions; null when no tool can be offered. Every parameter schema is
 * converted once here so that a keyword the grammar cannot enforce is a 400 naming it and its path,
 * unless the function says `strict: false`: then that keyword is relaxed (left out of the grammar and of
 * the final validation) and reported. Absent `strict` refuses, unlike OpenAI's best-effort default, so a
 * 200 never carries arguments the client's schema would reject without the client having agreed to it.
 */
export function decodeTools(
  body: Pick<ChatCompletionRequest, 'tools' | 'tool_choice' | 'parallel_tool_calls' | 'functions' | 'function_call'>,
): ToolOptions | null {
  let wireTools: unknown[] | null = body.tools ?? null
  let base = 'tools'
  let wireChoice: unknown = body.tool_choice ?? null
  let choiceParam = 'tool_choice'
  if (usesLegacyFunctions(body)) {
    if (wireTools?.length) throw new InvalidRequestError("Send 'tools' or the legacy 'functions', not both.", 'functions')
    wireTools = body.functions.map((f) => ({ type: 'function', function: f }))
    base = 'functions'
  }
  if (body.function_call != null) {
    const call = body.function_call
    const mapped = isObject(call) ? { type: 'function', function: call } : call
    if (wireChoice != null && JSON.stringify(wireChoice) !== JSON.stringify(mapped)) {
      throw new InvalidRequestError("Send 'tool_choice' or the legacy 'function_call', not both.", 'function_call')
    }
    if (wireChoice == null) {
      wireChoice = mapped
      choiceParam = 'function_call'
    }
  }
  const relaxed: string[] = []
  const definitions = (wireTools ?? []).map((tool, i) => decodeTool(tool, base === 'tools' ? `tools[${i}]` : `functions[${i}]`, base === 'tools', relaxed))
  const seen = new Set<string>()
  definitions.forEach((d, i) => {
    if (seen.has(d.name)) throw new InvalidRequestError(`Tool name '${d.name}' appears twice; names must be unique.`, `${base}[${i}]`)
    seen.add(d.name)
  })
  const choice = decodeChoice(wireChoice, definitions, choiceParam)
  if (definitions.length === 0) return null
  // A legacy `functions` answer holds one `function_call`, so it asks for one call.
  const parallel = base === 'functions' ? false : (body.parallel_tool_calls ?? true)
  return { definitions, choice, parallel, ...(relaxed.length > 0 ? { relaxed } : {}) }
}

/** The request offers its functions the legacy way (`functions`), and so is answered the legacy way. */
export function usesLegacyFunctions<T extends Pick<ChatCompletionRequest, 'functions'>>(body: T): body is T & { functions: NonNullable<T['functions']> } {
  return (body.functions?.length ?? 0) > 0
}

function decodeTool(wire: unknown, param: string, wrapped: boolean, relaxed: string[]): ToolDefinition {
  if (!isObject(wire)) throw new InvalidRequestError('A tool must be an object.', param)
  const type = wire.type ?? 'function'
  if (type !== 'function') throw new InvalidRequestError(`Tool type '${String(type)}' is not supported; only 'function' tools are.`, `${param}.type`)
  const fn = wire.function
  const fnParam = wrapped ? `${param}.function` : param
  if (!isObject(fn)) throw new InvalidRequestError("A function tool needs a 'function' object.", fnParam)
  if (typeof fn.name !== 'string' || !NAME.test(fn.name)) {
    throw new InvalidRequestError(`Function names must match ${NAME.source}; got ${JSON.stringify(fn.name)}.`, `${fnParam}.name`)
  }
  if (fn.description != null && typeof fn.description !== 'string') throw new InvalidRequestError("'description' must be a string.", `${fnParam}.description`)
  if (fn.strict != null && typeof fn.strict !== 'boolean') throw new InvalidRequestError("'strict' must be a boolean.", `${fnParam}.strict`)
  let parameters: object | null = fn.parameters ?? null
  if (parameters !== null) {
    if (!isObject(parameters)) throw new InvalidRequestError("'parameters' must be a JSON Schema object.", `${fnParam}.parameters`)
    const constraint = schemaConstraint(asObjectSchema(parameters), { param: `${fnParam}.parameters`, strict: fn.strict !== false })
    // Relaxed keywords leave the schema that the grammar and the final validation use.
    if (constraint.relaxed.length > 0) {
      relaxed.push(...constraint.relaxed)
      parameters = constraint.schema
    }
  }
  return { name: fn.name, ...(typeof fn.description === 'string' ? { description: fn.description } : {}), parameters }
}

function decodeChoice(wire: unknown, tools: readonly ToolDefinition[], param: string): ToolChoice {
  if (wire === null) return tools.length > 0 ? { kind: 'auto' } : { kind: 'none' }
  let choice: ToolChoice
  if (wire === 'none' || wire === 'auto' || wire === 'required') choice = { kind: wire }
  else if (isObject(wire) && (wire.type ?? 'function') === 'function' && isObject(wire.function) && typeof wire.function.name === 'string') {
    choice = { kind: 'named', name: wire.function.name }
  } else {
    throw new InvalidRequestError(`${param} must be 'none', 'auto', 'required' or {"type": "function", "function": {"name": …}}.`, param)
  }
  if ((choice.kind === 'required' || choice.kind === 'named') && tools.length === 0) {
    throw new InvalidRequestError(`${param} '${choice.kind}' needs tools to call; send 'tools'.`, param)
  }
  if (choice.kind === 'named' && !tools.some((t) => t.name === choice.name)) {
    throw new InvalidRequestError(`${param} names '${choice.name}', which is not among the tools (${tools.map((t) => t.name).join(', ')}).`, param)
  }
  return choice
}

/**
 * An assistant message's `tool_calls` (or legacy `function_call`) as history. Arguments may be a string
 * or an object; a string is parsed so templates get the mapping they expect, and one that is not JSON
 * is passed on as it is (models do write invalid JSON).
 */
export function decodeHistoryCalls(calls: unknown[] | null | undefined, legacy: unknown, param: string): ToolCallRecord[] {
  const out: ToolCallRecord[] = []
  ;(calls ?? []).forEach((call, j) => {
    const p = `${param}.tool_calls[${j}]`
    if (!isObject(call)) throw new InvalidRequestError('A tool call must be an object.', p)
    if ((call.type ?? 'function') !== 'function') throw new InvalidRequestError(`Tool call type '${String(call.type)}' is not supported.`, `${p}.type`)
    if (!isObject(call.function) || typeof call.function.name !== 'string') {
      throw new InvalidRequestError("A tool call needs 'function.name'.", `${p}.function.name`)
    }
    out.push({ id: typeof call.id === 'string' ? call.id : '', name: call.function.name, arguments: decodeArguments(call.function.arguments) })
  })
  if (legacy != null) {
    if (!isObject(legacy) || typeof legacy.name !== 'string') throw new InvalidRequestError("'function_call' needs a 'name'.", `${param}.function_call`)
    out.push({ id: '', name: legacy.name, arguments: decodeArguments(legacy.arguments) })
  }
  return out
}

function decodeArguments(args: unknown): unknown {
  if (args == null) return {}
  if (typeof args !== 'string') return args
  try {
    return JSON.parse(args) as unknown
  } catch {
    return args
  }
}

import { InvalidRequestError } from '../../errors.js'
import type { ChatMessage, ToolCallRecord } from '../../generation/request.js'
import type { ContentBlockParam, MessageParam, MessagesRequest } from '../schemas/messages.js'

type Json = Record<string, unknown>

/** A content block with the path clients see in errors (`messages[2].content[0]`). */
interface Block {
  block: ContentBlockParam & Json
  param: string
}

/** What blocks this server cannot take, and why (a 400 names the block and this reason). */
const REFUSED_BLOCKS: Record<string, string> = {
  image: 'this server has no vision model',
  document: 'this server reads no documents; send their text as text blocks',
  search_result: 'search results are not supported; send their text as text blocks',
  container_upload: 'this server runs no code containers',
}

/**
 * Anthropic's system prompt and turns → the contract's chat messages, as vLLM and llama-server map them:
 * a user turn's `tool_result` blocks become `tool` messages (in place, so order is kept) and its text one
 * user message; an assistant turn is one message with its text, its `tool_use` blocks as calls and its
 * `thinking` as reasoning. Consecutive turns of one role are merged first, as Anthropic does. Text blocks are
 * joined with '\n' (chat's rule for text parts), so the same conversation renders the same prompt on both APIs.
 */
export function decodeTurns(system: MessagesRequest['system'], messages: readonly MessageParam[]): ChatMessage[] {
  const out: ChatMessage[] = []
  if (system != null) {
    const text = typeof system === 'string' ? system : system.map((b) => b.text).join('\n')
    if (text) out.push({ role: 'system', content: text })
  }
  const calls = new Set<string>()
  for (const turn of mergeTurns(messages)) {
    if (turn.role === 'assistant') out.push(decodeAssistant(turn.blocks, calls))
    else out.push(...decodeUser(turn.blocks, calls))
  }
  return out
}

type TurnRole = 'user' | 'assistant'

function mergeTurns(messages: readonly MessageParam[]): Array<{ role: TurnRole; blocks: Block[] }> {
  const turns: Array<{ role: TurnRole; blocks: Block[] }> = []
  messages.forEach((message, i) => {
    const role = turnRole(message, i)
    const param = `messages[${i}].content`
    const blocks: Block[] =
      typeof message.content === 'string'
        ? [{ block: { type: 'text', text: message.content }, param }]
        : message.content.map((block, j) => ({ block: block as ContentBlockParam & Json, param: `${param}[${j}]` }))
    const last = turns.at(-1)
    if (last?.role === role) last.blocks.push(...blocks)
    else turns.push({ role, blocks })
  })
  return turns
}

/**
 * Turns are user or assistant only, as on Anthropic's API (its 400 in its words): a system message in the
 * turns would be rendered where no template expects one, and clients that send it mean the `system` field.
 */
function turnRole(message: MessageParam, i: number): TurnRole {
  if (message.role !== 'system') return message.role
  const param = `messages[${i}].role`
  throw new InvalidRequestError(
    `${param}: Unexpected role "system". The Messages API accepts a top-level \`system\` parameter, not "system" as an input message role.`,
    param,
  )
}

function decodeUser(blocks: readonly Block[], calls: ReadonlySet<string>): ChatMessage[] {
  const out: ChatMessage[] = []
  let text: string[] = []
  const flush = () => {
    if (text.length > 0) out.push({ role: 'user', content: text.join('\n') })
    text = []
  }
  for (const { block, param } of blocks) {
    if (block.type === 'text') text.push(blockText(block, param))
    else if (block.type === 'tool_result') {
      flush()
      out.push(decodeToolResult(block, param, calls))
    } else refuseBlock(block, param, 'user')
  }
  flush()
  return out
}

/**
 * A tool result as a `tool` message. `is_error` has no place in chat templates, so it is said in the text
 * the model reads ("Error: …"); the result must answer a `tool_use` the conversation holds.
 */
function decodeToolResult(block: Json, param: string, calls: ReadonlySet<string>): ChatMessage {
  const id = block.tool_use_id
  if (typeof id !== 'string' || !id) throw new InvalidRequestError(`A tool_result block needs 'tool_use_id' (${param}).`, `${param}.tool_use_id`)
  if (!calls.has(id)) {
    throw new InvalidRequestError(`${param}: tool_result '${id}' answers no tool_use block of an earlier assistant turn.`, `${param}.tool_use_id`)
  }
  const content = block.content ?? ''
  let text: string
  if (typeof content === 'string') text = content
  else if (Array.isArray(content)) {
    text = texts(
      content.map((b, k) => ({ block: b as ContentBlockParam & Json, param: `${param}.content[${k}]` })),
      'tool_result',
    ).join('\n')
  } else throw new InvalidRequestError(`${param}.content must be a string or an array of text blocks.`, `${param}.content`)
  if (block.is_error != null && typeof block.is_error !== 'boolean') throw new InvalidRequestError(`${param}.is_error must be a boolean.`, `${param}.is_error`)
  return { role: 'tool', content: block.is_error === true ? `Error: ${text}` : text, toolCallId: id }
}

function decodeAssistant(blocks: readonly Block[], calls: Set<string>): ChatMessage {
  const text: string[] = []
  const thoughts: string[] = []
  const toolCalls: ToolCallRecord[] = []
  for (const { block, param } of blocks) {
    switch (block.type) {
      case 'text':
        text.push(blockText(block, param))
        break
      case 'thinking':
        if (typeof block.thinking !== 'string') throw new InvalidRequestError(`${param}: a thinking block needs a string 'thinking'.`, `${param}.thinking`)
        thoughts.push(block.thinking)
        break
      case 'redacted_thinking':
        // Encrypted by Anthropic for its own models: nothing a local model could read. Dropped from the prompt.
        break
      case 'tool_use': {
        const { id, name, input } = block
        if (typeof id !== 'string' || !id) throw new InvalidRequestError(`${param}: a tool_use block needs a string 'id'.`, `${param}.id`)
        if (typeof name !== 'string' || !name) throw new InvalidRequestError(`${param}: a tool_use block needs a string 'name'.`, `${param}.name`)
        if (typeof input !== 'object' || input === null || Array.isArray(input)) {
          throw new InvalidRequestError(`${param}: a tool_use block's 'input' must be an object.`, `${param}.input`)
        }
        calls.add(id)
        toolCalls.push({ id, name, arguments: input })
        break
      }
      default:
        refuseBlock(block, param, 'assistant')
    }
  }
  return {
    role: 'assistant',
    content: text.join('\n'),
    ...(toolCalls.length > 0 ? { toolCalls } : {}),
    ...(thoughts.length > 0 ? { reasoning: thoughts.join('\n') } : {}),
  }
}

/** The text of blocks that may only be text (tool results). */
function texts(blocks: readonly Block[], where: string): string[] {
  return blocks.map(({ block, param }) => {
    if (block.type === 'text') return blockText(block, param)
    return refuseBlock(block, param, where)
  })
}

function blockText(block: Json, param: string): string {
  if (typeof block.text !== 'string') throw new InvalidRequestError(`${param}: a text block needs a string 'text'.`, `${param}.text`)
  return block.text
}

function refuseBlock(block: Json, param: string, where: string): never {
  const type = String(block.type)
  const why = REFUSED_BLOCKS[type] ?? `'${where}' content may not hold them`
  throw new InvalidRequestError(`${param}: '${type}' blocks are not supported here: ${why}.`, `${param}.type`)
}

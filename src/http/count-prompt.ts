import type { ModelBackend } from '../generation/backend.js'
import type { GenerationInput, ToolOptions } from '../generation/request.js'

/** A chat prompt's length as a generation renders it (messages, template options and the tools offered), and the model's context. */
export async function countChatPrompt(
  models: ModelBackend,
  model: string,
  input: Extract<GenerationInput, { kind: 'chat' }>,
  tools: ToolOptions | null,
  signal: AbortSignal,
): Promise<{ tokens: number; contextSize: number }> {
  const counted = await models.tokenize({ model, input: { ...input, tools: tools?.definitions ?? null }, withPieces: false }, { signal })
  return { tokens: counted.tokens.length, contextSize: counted.contextSize }
}

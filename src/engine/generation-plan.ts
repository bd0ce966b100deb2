import type { LlamaGrammar, Token } from 'node-llama-cpp'
import type { GenerationRequest } from '../generation/request.js'
import type { ToolCallFormat } from './tool-call-formats.js'

/** A request planned for one model: what the decode loop and the output pipeline of each choice need. */
export interface GenerationPlan {
  request: GenerationRequest
  promptTokens: Token[]
  /** truncate_prompt_tokens cut the prompt: its echo is then read from the tokens kept, not the text sent. */
  promptCut: boolean
  /** Completion tokens allowed per choice: the request's or model's ceiling, clamped to the free context. */
  maxTokens: number
  /** Chat-format turn terminators: they end generation like EOS and are never reported as stop_reason. */
  turnStopTokens: ReadonlySet<number>
  turnStopTexts: readonly string[]
  /** Compiled grammar of a structured-output or tool-calling request. */
  grammar: LlamaGrammar | null
  /** The format tool calls are read in; null = the output is only text (no tools, or tool choice `none`). */
  toolFormat: ToolCallFormat | null
  /** A thinking model's prompt (see RenderedPrompt): the output is split into reasoning and content. null = plain. */
  reasoning?: { startsInside: boolean } | null
}

import type { ChatMessage, ChatTemplateOptions, ToolDefinition } from './request.js'

/** The protocol-free contract for tokenizing and detokenizing. */

export type TokenizeInput =
  /** Raw text; `addSpecial` adds BOS (and EOS) where the model's GGUF asks for them. */
  | { kind: 'text'; text: string; addSpecial: boolean }
  /** Chat messages, rendered exactly as a chat generation renders them. */
  | { kind: 'chat'; messages: ChatMessage[]; template?: ChatTemplateOptions; tools?: ToolDefinition[] | null }

export interface TokenizeRequest {
  /** Resolved model id. */
  model: string
  input: TokenizeInput
  /** Also report each token's own text. */
  withPieces: boolean
}

export interface TokenizeResult {
  tokens: number[]
  /** Each token's text (special tokens by their text, part of a UTF-8 character as U+FFFD); null unless asked. */
  pieces: string[] | null
  /** The model's context length, in tokens. */
  contextSize: number
}

export interface DetokenizeRequest {
  /** Resolved model id. */
  model: string
  tokens: number[]
  /** Keep special tokens' text; false = leave them out as generated text does. */
  keepSpecial: boolean
}

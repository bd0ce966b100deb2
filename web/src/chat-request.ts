import type { TSchema } from '@sinclair/typebox'
import { GenerationParamsProperties } from '../../src/api/schemas/generation-params.js'

/** The playground's settings as the form holds them: text, '' meaning "the server's default". */
export interface ChatSettings {
  systemPrompt: string
  temperature: string
  topP: string
  topK: string
  minP: string
  maxTokens: string
  seed: string
  /** One stop sequence per line. */
  stop: string
  responseFormat: 'text' | 'json_object' | 'json_schema'
  jsonSchema: string
}

export const DEFAULT_SETTINGS: ChatSettings = {
  systemPrompt: '',
  temperature: '',
  topP: '',
  topK: '',
  minP: '',
  maxTokens: '512',
  seed: '',
  stop: '',
  responseFormat: 'text',
  jsonSchema: '{\n  "type": "object",\n  "properties": { "answer": { "type": "string" } },\n  "required": ["answer"]\n}',
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant'
  content: string
}

/**
 * The number settings the form offers, by form key → request field. Whether a field takes an integer is
 * read from the wire schema, so the form cannot disagree with what the server accepts.
 */
const NUMBER_SETTINGS = {
  temperature: 'temperature',
  topP: 'top_p',
  topK: 'top_k',
  minP: 'min_p',
  maxTokens: 'max_tokens',
  seed: 'seed',
} as const satisfies Partial<Record<keyof ChatSettings, keyof typeof GenerationParamsProperties>>

/** A setting the server would refuse, named as the form names it. */
export class SettingsError extends Error {}

/**
 * The streamed /v1/chat/completions body for a conversation: the system prompt first, only the settings
 * that are filled in, and usage on the last chunk (for the reply's token counts). Pure (no DOM).
 */
export function buildChatRequest(model: string, settings: ChatSettings, history: readonly ChatMessage[]): Record<string, unknown> {
  const system = settings.systemPrompt.trim()
  const stop = settings.stop.split('\n').filter((line) => line !== '')
  return {
    model,
    messages: system ? [{ role: 'system', content: system }, ...history] : [...history],
    stream: true,
    stream_options: { include_usage: true },
    ...Object.assign({}, ...Object.entries(NUMBER_SETTINGS).map(([key, field]) => numberField(field, settings[key as keyof typeof NUMBER_SETTINGS]))),
    ...(stop.length > 0 ? { stop } : {}),
    ...responseFormat(settings),
  }
}

function numberField(name: keyof typeof GenerationParamsProperties, text: string): Record<string, number> {
  if (text.trim() === '') return {}
  const integer = takesInteger(GenerationParamsProperties[name])
  const value = Number(text)
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new SettingsError(`${name} must be ${integer ? 'an integer' : 'a number'}, not "${text}".`)
  }
  return { [name]: value }
}

/** The field's schema, or a member of its nullable union, is an integer. */
function takesInteger(schema: TSchema): boolean {
  return schema.type === 'integer' || ((schema.anyOf as TSchema[] | undefined) ?? []).some(takesInteger)
}

function responseFormat(settings: ChatSettings): Record<string, unknown> {
  switch (settings.responseFormat) {
    case 'text':
      return {}
    case 'json_object':
      return { response_format: { type: 'json_object' } }
    case 'json_schema': {
      let schema: unknown
      try {
        schema = JSON.parse(settings.jsonSchema)
      } catch (error) {
        throw new SettingsError(`The JSON schema does not parse: ${(error as Error).message}`)
      }
      return { response_format: { type: 'json_schema', json_schema: { name: 'playground', schema, strict: true } } }
    }
  }
}

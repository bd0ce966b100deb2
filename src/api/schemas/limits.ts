/**
 * Bounds on what one request may ask for, beyond the body's byte limit: each keeps the work a single field can
 * cause (template rendering, stop matching, bias tables, grammar building) proportionate. OpenAI's own limits
 * where it documents one (128 tools); generous elsewhere.
 */
export const REQUEST_LIMITS = {
  messages: 4096,
  tools: 128,
  stopStrings: 32,
  stopStringChars: 1024,
  logitBiasEntries: 1024,
  badWords: 1024,
  /** guided_choice alternatives. */
  choices: 1024,
  /** Nesting of the JSON body itself (a JSON Schema of 20 levels is about 40 deep). */
  jsonDepth: 128,
} as const

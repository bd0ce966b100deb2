import { InvalidRequestError } from '../../errors.js'

/**
 * How many generations one request body asks for: one per prompt (a completions `prompt` may be a list of
 * strings or of token lists) times `n`. Read from the raw body, so the HTTP layer can charge rate limits for it
 * before the request is decoded. Anything malformed counts as 1: validation refuses it anyway.
 */
export function fanOutOf(body: unknown): number {
  if (typeof body !== 'object' || body === null) return 1
  const { prompt, n } = body as { prompt?: unknown; n?: unknown }
  const choices = typeof n === 'number' && Number.isInteger(n) && n > 1 ? n : 1
  return promptCount(prompt) * choices
}

/** A 400 naming the limit when a request fans out to more generations than `maxFanOut`. */
export function checkFanOut(body: unknown, maxFanOut: number): void {
  const fanOut = fanOutOf(body)
  if (fanOut <= maxFanOut) return
  const prompts = promptCount((body as { prompt?: unknown }).prompt)
  const what = prompts > 1 ? `${prompts} prompts × n ${fanOut / prompts}` : `n ${fanOut}`
  throw new InvalidRequestError(
    `This request asks for ${fanOut} generations (${what}), but at most ${maxFanOut} are served per request (maxFanOut); ` +
      'send the prompts in several requests.',
    prompts > 1 ? 'prompt' : 'n',
    'fan_out_too_large',
  )
}

function promptCount(prompt: unknown): number {
  if (!Array.isArray(prompt) || prompt.length === 0) return 1
  // A list of numbers is one prompt as token ids.
  return prompt.every((p) => typeof p === 'number') ? 1 : prompt.length
}

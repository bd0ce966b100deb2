import { TINY_MODEL_PATH } from '../helpers/models.js'

/** What an error message must never carry: stack frames, file paths, source locations, the model's path. */
const LEAKS: Array<[string, RegExp]> = [
  ['a stack trace', /\n\s+at /],
  ['a /work path', /\/work\b/],
  ['node_modules', /node_modules/],
  ['a .ts source location', /\.ts:/],
  ['a .js source location', /\.js:/],
  ['the model path', new RegExp(TINY_MODEL_PATH.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))],
]

/**
 * Problems with one non-2xx answer: its body must be exactly OpenAI's envelope
 * `{error: {message, type, param, code}}` and leak nothing. `sent` is the request as text: a leak pattern
 * the client itself sent (an echoed URL or model name) is not the server's leak.
 */
export function errorBodyProblems(body: string, sent = '', extraSecrets: string[] = []): string[] {
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch {
    return [`body is not JSON: ${JSON.stringify(body.slice(0, 120))}`]
  }
  const problems: string[] = []
  const envelope = json as { error?: Record<string, unknown> }
  if (!isPlainObject(json) || Object.keys(json).join() !== 'error' || !isPlainObject(envelope.error)) {
    return [`not the OpenAI envelope: ${body.slice(0, 160)}`]
  }
  const error = envelope.error
  if (Object.keys(error).sort().join() !== 'code,message,param,type') problems.push(`error keys ${Object.keys(error).sort().join(',')}`)
  if (typeof error.message !== 'string') problems.push('message is not a string')
  if (typeof error.type !== 'string') problems.push('type is not a string')
  if (error.param !== null && typeof error.param !== 'string') problems.push('param is neither a string nor null')
  if (error.code !== null && typeof error.code !== 'string') problems.push('code is neither a string nor null')
  const message = String(error.message)
  for (const [what, pattern] of LEAKS) if (pattern.test(message) && !pattern.test(sent)) problems.push(`message holds ${what}: ${message.slice(0, 200)}`)
  for (const secret of extraSecrets) if (message.includes(secret)) problems.push(`message holds ${secret}`)
  return problems
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

import { InvalidRequestError } from '../../errors.js'
// Pure converter (no engine state): converting here lets a keyword the grammar cannot enforce fail as a 400.
import { schemaConstraint } from '../../constraints/schema-constraint.js'
import type { GrammarSpec, ReasoningEffort } from '../../generation/request.js'
import type { CountTokensRequest } from '../schemas/messages.js'

/** What a Messages request asks of the output, besides tools. */
export interface MessagesOutput {
  /** Structured output: the grammar of the JSON texts valid against the schema; null = free text. */
  grammar: GrammarSpec | null
  /** The field that asked for it (`output_config.format` or the beta `output_format`), named in errors. */
  formatParam: string
  /** `output_config.effort` as the template's `reasoning_effort`; null = not sent. */
  effort: ReasoningEffort | null
}

const KNOWN_KEYS = new Set(['effort', 'format'])

/**
 * `output_config` and the deprecated beta `output_format`. A JSON schema format is enforced as chat's
 * `response_format` json_schema is, through the same schema→grammar converter, always strictly: Anthropic's
 * structured outputs promise schema-valid JSON and have no best-effort mode, so a keyword the grammar cannot
 * enforce is a 400 naming it. `effort` goes to the template as `reasoning_effort`; `xhigh` and `max` as
 * `high`, the highest value templates know. Any other key (a beta's `task_budget`, …) is refused, not ignored.
 */
export function decodeMessagesOutput(body: CountTokensRequest): MessagesOutput {
  const config = body.output_config ?? {}
  for (const key of Object.keys(config)) {
    if (!KNOWN_KEYS.has(key)) throw new InvalidRequestError(`output_config.${key} is not supported; output_config takes effort and format.`, `output_config.${key}`)
  }
  if (config.format != null && body.output_format != null) {
    throw new InvalidRequestError("Send 'output_config.format' or the deprecated 'output_format', not both.", 'output_format')
  }
  const formatParam = body.output_format != null ? 'output_format' : 'output_config.format'
  const format = config.format ?? body.output_format ?? null
  const effort = config.effort == null ? null : config.effort === 'xhigh' || config.effort === 'max' ? 'high' : config.effort
  return { grammar: format === null ? null : schemaGrammar(format.schema, `${formatParam}.schema`), formatParam, effort }
}

function schemaGrammar(schema: unknown, param: string): GrammarSpec {
  // Anthropic's format has no `strict` to turn off, so the 400 for a keyword does not suggest one.
  const { gbnf, schema: effective } = schemaConstraint(schema, { param, strict: true, canRelax: false })
  return { gbnf, schema: effective, param }
}

import { Type, type Static } from '@sinclair/typebox'
import { Nullable } from './common.js'
import { REQUEST_LIMITS } from './limits.js'

/**
 * Request fields shared by /v1/chat/completions and /v1/completions: sampling, length, stops, n and the
 * vLLM-style extras. Each endpoint's schema spreads these and adds its own input fields.
 */

/** text | json_object | json_schema (OpenAI), json (DeepInfra), json_object + schema (llama.cpp), grammar (GBNF). */
export const ResponseFormatSchema = Type.Object(
  {
    type: Type.String(),
    json_schema: Type.Optional(
      Type.Object(
        { name: Type.Optional(Type.String()), description: Type.Optional(Type.String()), schema: Type.Optional(Type.Unknown()), strict: Nullable(Type.Boolean()) },
        { additionalProperties: true },
      ),
    ),
    schema: Type.Optional(Type.Unknown()),
    grammar: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
)

export type ResponseFormat = Static<typeof ResponseFormatSchema>

export const GenerationParamsProperties = {
    frequency_penalty: Nullable(Type.Number({ minimum: -2, maximum: 2 })),
    logit_bias: Nullable(
      Type.Record(Type.String(), Type.Number({ minimum: -100, maximum: 100 }), { maxProperties: REQUEST_LIMITS.logitBiasEntries }),
    ),
    max_tokens: Nullable(Type.Integer({ minimum: 1 })),
    n: Nullable(Type.Integer({ minimum: 1 })),
    presence_penalty: Nullable(Type.Number({ minimum: -2, maximum: 2 })),
    response_format: Nullable(ResponseFormatSchema),
    // Other servers' ways to constrain the output; one per request (with response_format) at most.
    grammar: Nullable(Type.String({ description: 'llama-server: GBNF the output must follow.' })),
    json_schema: Nullable(Type.Unknown({ description: 'llama-server: a JSON Schema the output must validate against.' })),
    guided_json: Nullable(Type.Unknown({ description: 'vLLM: a JSON Schema (object or JSON text) the output must validate against.' })),
    guided_grammar: Nullable(Type.String({ description: 'vLLM: a grammar (GBNF) the output must follow.' })),
    guided_choice: Nullable(
      Type.Array(Type.String(), { minItems: 1, maxItems: REQUEST_LIMITS.choices, description: 'vLLM: the output is exactly one of these strings.' }),
    ),
    guided_regex: Nullable(Type.String({ description: 'vLLM: refused (regular expressions are not enforced).' })),
    structured_outputs: Nullable(
      Type.Object(
        {
          json: Type.Optional(Type.Unknown()),
          grammar: Type.Optional(Type.String()),
          choice: Type.Optional(Type.Array(Type.String(), { minItems: 1, maxItems: REQUEST_LIMITS.choices })),
          regex: Type.Optional(Type.String()),
          json_object: Nullable(Type.Boolean()),
          // Refused (the codec names them): no structural-tag support; the rest only at their defaults.
          structural_tag: Nullable(Type.Unknown()),
          whitespace_pattern: Nullable(Type.String()),
          disable_fallback: Nullable(Type.Boolean()),
          disable_any_whitespace: Nullable(Type.Boolean()),
          disable_additional_properties: Nullable(Type.Boolean()),
          _backend: Nullable(Type.String()),
          _backend_was_auto: Nullable(Type.Boolean()),
        },
        {
          additionalProperties: true,
          description: 'vLLM ≥ 0.10: `{json | grammar | choice | json_object}`; the `disable_*`, `whitespace_pattern` and `_backend*` fields at their defaults only.',
        },
      ),
    ),
    seed: Nullable(Type.Integer({ description: 'Same seed and parameters give the same output. Random when absent.' })),
    stop: Nullable(
      Type.Union(
        [
          Type.String({ minLength: 1, maxLength: REQUEST_LIMITS.stopStringChars }),
          Type.Array(Type.String({ minLength: 1, maxLength: REQUEST_LIMITS.stopStringChars }), { maxItems: REQUEST_LIMITS.stopStrings }),
        ],
        { description: 'Up to 32 non-empty strings; generation ends before them and they are not returned.' },
      ),
    ),
    stream: Nullable(Type.Boolean()),
    stream_options: Nullable(
      Type.Object(
        {
          include_usage: Nullable(Type.Boolean({ description: 'A trailing `choices: []` chunk carries the usage. Default true once stream_options is sent (vLLM; OpenAI: false).' })),
          continuous_usage_stats: Nullable(Type.Boolean({ description: 'Every chunk carries the usage so far (vLLM). Default false.' })),
        },
        { additionalProperties: true },
      ),
    ),
    temperature: Nullable(Type.Number({ minimum: 0, maximum: 4, description: '0 = greedy. Default 1.' })),
    top_p: Nullable(Type.Number({ minimum: 0, maximum: 1, description: '0 = greedy (as temperature 0). Default 1.' })),
    top_p_min: Nullable(Type.Number({ description: 'TensorRT-LLM: 0 only (no dynamic top_p).' })),
    user: Nullable(Type.String()),
    top_k: Nullable(Type.Integer({ minimum: -1, description: '0 or -1 = off (default).' })),
    min_p: Nullable(Type.Number({ minimum: 0, maximum: 1 })),
    repetition_penalty: Nullable(Type.Number({ exclusiveMinimum: 0, description: 'Multiplicative (HF/vLLM); 1 = off.' })),
    min_tokens: Nullable(Type.Integer({ minimum: 0, description: 'EOS and stops are suppressed until this many tokens.' })),
    ignore_eos: Nullable(Type.Boolean()),
    stop_token_ids: Nullable(Type.Array(Type.Integer({ minimum: 0 }), { maxItems: 64 })),
    include_stop_str_in_output: Nullable(Type.Boolean()),
    skip_special_tokens: Nullable(Type.Boolean()),
    spaces_between_special_tokens: Nullable(Type.Boolean({ description: 'Accepted; llama.cpp detokenization has no such spacing.' })),
    bad_token_ids: Nullable(Type.Array(Type.Integer({ minimum: 0 }), { maxItems: 4096 })),
    allowed_token_ids: Nullable(Type.Array(Type.Integer({ minimum: 0 }), { minItems: 1 })),
    truncate_prompt_tokens: Nullable(
      Type.Integer({ minimum: -1, description: 'Keep only the last k (≥ 1) prompt tokens; -1 = as many as fit the context (0 is refused).' }),
    ),
    best_of: Nullable(Type.Integer({ minimum: 1 })),
    priority: Nullable(Type.Integer({ description: 'Queue order when the server is busy: lower goes first (vLLM). Default 0.' })),
    cache_salt: Nullable(Type.String({ minLength: 1, maxLength: 256, description: "A tenant's prefix-cache key (vLLM): a cached prompt is reused only by requests with the same salt." })),
    request_id: Nullable(
      Type.String({ minLength: 1, maxLength: 128, pattern: '^[!-~]+$', description: 'Your id for the request (vLLM): echoed as x-request-id and logged.' }),
    ),
    return_token_ids: Nullable(Type.Boolean({ description: 'false only (token ids are not returned).' })),
    use_beam_search: Nullable(Type.Boolean()),
    length_penalty: Nullable(Type.Number({ description: 'Beam search only: 1 only.' })),
    early_stopping: Nullable(Type.Boolean({ description: 'Beam search only: false only.' })),
    bad_words: Nullable(Type.Array(Type.String(), { maxItems: REQUEST_LIMITS.badWords })),
    bad: Nullable(Type.Array(Type.String())),
    prompt_logprobs: Nullable(Type.Integer({ minimum: 0 })),
    logits_processors: Nullable(Type.Array(Type.Unknown())),
    return_tokens_as_token_ids: Nullable(Type.Boolean()),
}

const GenerationParamsSchema = Type.Object(GenerationParamsProperties)
export type GenerationParams = Static<typeof GenerationParamsSchema>

export const FinishReasonSchema = Type.Union([Type.Literal('stop'), Type.Literal('length'), Type.Literal('tool_calls')])
export const StopReasonSchema = Type.Union([Type.String(), Type.Integer(), Type.Null()])

/** Fields every completion body and chunk starts with. */
export const responseHead = <T extends string>(object: T) => ({
  id: Type.String(),
  object: Type.Literal(object),
  created: Type.Integer(),
  model: Type.String(),
  system_fingerprint: Type.String(),
})

import type { FastifyReply } from 'fastify'
import type { GenerationRequest } from '../generation/request.js'

/**
 * Names the schema keywords a `strict: false` request let the grammar leave out, in `x-schema-relaxed`
 * (e.g. `pattern at response_format.json_schema.schema#/properties/x`), so a client can see what was not
 * enforced. Header values must be printable ASCII: other characters in property names go percent-encoded.
 */
export function reportRelaxedSchema(reply: FastifyReply, generation: GenerationRequest): void {
  const relaxed = [...(generation.grammar?.relaxed ?? []), ...(generation.tools?.relaxed ?? [])]
  if (relaxed.length === 0) return
  reply.header('x-schema-relaxed', relaxed.map((r) => r.replace(/[^ -~]|,/g, (c) => encodeURIComponent(c))).join(', '))
}

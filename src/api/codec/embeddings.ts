import { InvalidRequestError } from '../../errors.js'
import type { EmbeddingInput, EmbeddingRequest as Embedding, EmbeddingResult } from '../../generation/embedding.js'
import type { ModelDefaults } from '../../generation/backend.js'
import type { EmbeddingRequest, EmbeddingResponse } from '../schemas/embeddings.js'
import { checkTokenIds } from './generation-params.js'

export type EmbeddingEncoding = 'float' | 'base64'

/** What the backend is asked for, and how the answer goes back on the wire. */
export interface EmbeddingJob {
  request: Embedding
  encoding: EmbeddingEncoding
}

/** Wire request → protocol-free request; `model` is the resolved id, `facts` bound dimensions and token ids. */
export function decodeEmbeddingRequest(body: EmbeddingRequest, model: string, facts: Pick<ModelDefaults, 'embeddingSize' | 'vocabularySize'>): EmbeddingJob {
  const inputs = decodeInputs(body.input)
  const dimensions = body.dimensions ?? null
  const size = facts.embeddingSize
  if (dimensions !== null && dimensions > size) {
    throw new InvalidRequestError(`dimensions is ${dimensions}, but this model's embeddings have ${size}; send at most ${size}.`, 'dimensions')
  }
  inputs.forEach((input, i) => {
    if (typeof input !== 'string') checkTokenIds(input, facts.vocabularySize, 'input', inputs.length > 1 ? `input[${i}]` : 'input')
  })
  return { request: { model, inputs, dimensions }, encoding: body.encoding_format ?? 'float' }
}

function decodeInputs(input: EmbeddingRequest['input']): EmbeddingInput[] {
  if (input.length === 0) throw new InvalidRequestError("'input' is empty; send text or token ids to embed.", 'input')
  if (typeof input === 'string') return [input]
  // A flat list of numbers is one input of token ids; otherwise every element is an input.
  if (typeof input[0] === 'number') return [input as number[]]
  const inputs = input as Array<string | number[]>
  const empty = inputs.findIndex((item) => item.length === 0)
  if (empty >= 0) throw new InvalidRequestError(`'input[${empty}]' is empty; every input needs text or token ids.`, 'input')
  return inputs
}

export function encodeEmbeddingResponse(result: EmbeddingResult, model: string, encoding: EmbeddingEncoding): EmbeddingResponse {
  return {
    object: 'list',
    data: result.vectors.map((vector, index) => ({
      object: 'embedding' as const,
      index,
      embedding: encoding === 'base64' ? toBase64(vector) : Array.from(vector),
    })),
    model,
    usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens },
  }
}

/** Little-endian float32 bytes, as OpenAI sends them, whatever the host's byte order. */
function toBase64(vector: Float32Array): string {
  const bytes = Buffer.alloc(vector.length * Float32Array.BYTES_PER_ELEMENT)
  vector.forEach((value, i) => bytes.writeFloatLE(value, i * Float32Array.BYTES_PER_ELEMENT))
  return bytes.toString('base64')
}

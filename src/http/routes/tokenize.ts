import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { decodeTokenizeRequest, encodeTokenizeResponse } from '../../api/codec/tokenize.js'
import { ErrorBodySchema } from '../../api/schemas/common.js'
import {
  DetokenizeRequestSchema,
  DetokenizeResponseSchema,
  TokenizeRequestSchema,
  TokenizeResponseSchema,
} from '../../api/schemas/tokenize.js'
import { Tokenizer } from '../../engine/tokenizer.js'

/** vLLM's `/tokenize` and `/detokenize`: the ids the other endpoints evaluate, and their text. */
export const tokenizeRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/tokenize',
    {
      schema: {
        summary: 'Tokenize text, or chat messages as the chat endpoint renders them',
        body: TokenizeRequestSchema,
        response: { 200: TokenizeResponseSchema, '4xx': ErrorBodySchema, '5xx': ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const loaded = (await app.router.acquire(request.body.model)).model
      const { input, returnTokenStrs } = decodeTokenizeRequest(request.body, loaded.info.id, loaded.config)
      const tokenizer = new Tokenizer(loaded)
      const tokens = input.kind === 'chat' ? tokenizer.render(input.messages, input.template ?? null) : tokenizer.tokenize(input.text, input.addSpecial)
      return encodeTokenizeResponse(tokens, loaded.info.contextSize, returnTokenStrs ? tokenizer.pieces(tokens) : null)
    },
  )

  app.post(
    '/detokenize',
    {
      schema: {
        summary: 'Turn token ids back into text',
        body: DetokenizeRequestSchema,
        response: { 200: DetokenizeResponseSchema, '4xx': ErrorBodySchema, '5xx': ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const { model, tokens, skip_special_tokens } = request.body
      const tokenizer = new Tokenizer((await app.router.acquire(model)).model)
      return { prompt: tokenizer.detokenize(tokens, !(skip_special_tokens ?? true), 'tokens') }
    },
  )
}

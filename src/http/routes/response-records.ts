import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import { encodeItemPage } from '../../api/codec/responses-pages.js'
import { ErrorBodySchema } from '../../api/schemas/common.js'
import {
  DeletedResponseSchema,
  InputItemListSchema,
  InputItemsQuerySchema,
  ResponseIdParamsSchema,
  ResponseObjectSchema,
} from '../../api/schemas/responses.js'
import { InvalidRequestError, NotFoundError } from '../../errors.js'
import type { StoredResponse } from '../../store/response-store.js'

const ERRORS = { '4xx': ErrorBodySchema, '5xx': ErrorBodySchema }

/** Stored responses: read back, list their input, delete. Unknown, expired and deleted ids are 404s. */
export const responseRecordRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/responses/:id',
    { schema: { summary: 'Retrieve a stored response', params: ResponseIdParamsSchema, response: { 200: ResponseObjectSchema, ...ERRORS } } },
    async (request) => (await stored(app, request.params.id)).response,
  )

  app.get(
    '/responses/:id/input_items',
    {
      schema: {
        summary: "List a stored response's input items (a cursor page)",
        params: ResponseIdParamsSchema,
        querystring: InputItemsQuerySchema,
        response: { 200: InputItemListSchema, ...ERRORS },
      },
    },
    async (request) => encodeItemPage((await stored(app, request.params.id)).input, request.query),
  )

  app.post(
    '/responses/:id/cancel',
    { schema: { summary: 'Cancel a background response (none run here: always 400 for a stored id)', params: ResponseIdParamsSchema, response: ERRORS } },
    async (request) => {
      await stored(app, request.params.id)
      // OpenAI's answer for a response that was not created in the background; `background: true` is refused here.
      throw new InvalidRequestError('Only background responses can be cancelled, and this server runs none (background: true is refused).', 'response_id')
    },
  )

  app.delete(
    '/responses/:id',
    { schema: { summary: 'Delete a stored response', params: ResponseIdParamsSchema, response: { 200: DeletedResponseSchema, ...ERRORS } } },
    async (request) => {
      const { id } = request.params
      if (!(await app.responseStore?.delete(id))) throw notFound(id)
      return { id, object: 'response' as const, deleted: true as const }
    },
  )
}

async function stored(app: FastifyInstance, id: string): Promise<StoredResponse> {
  const record = await app.responseStore?.get(id)
  if (!record) throw notFound(id)
  return record
}

function notFound(id: string): NotFoundError {
  return new NotFoundError(`Response with id '${id}' not found.`, 'response_id')
}

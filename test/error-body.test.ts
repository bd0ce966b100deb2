import Fastify, { errorCodes, type FastifyError } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InvalidRequestError, PayloadTooLargeError, ServeError } from '../src/errors.js'
import { errorBody, fromFastifyError, toParam } from '../src/http/error-body.js'

type AjvError = { instancePath: string; keyword: string; message?: string; params: Record<string, unknown> }

/** A Fastify validation error as Fastify hands it to the error handler. */
function validationError(validation: AjvError[]): Parameters<typeof fromFastifyError>[0] {
  const error = new Error(`body${validation[0]?.instancePath ?? ''} ${validation[0]?.message ?? ''}`)
  return Object.assign(error, {
    code: 'FST_ERR_VALIDATION',
    statusCode: 400,
    validation: validation.map((v) => ({ schemaPath: `#/properties${v.instancePath}/${v.keyword}`, ...v })),
    validationContext: 'body',
  }) as unknown as Parameters<typeof fromFastifyError>[0]
}

const LIMIT = 1234

describe('toParam', () => {
  it.each([
    ['/messages/0/role', 'messages[0].role'],
    ['/stop/3', 'stop[3]'],
    ['/messages', 'messages'],
    ['/messages/12/content/1/type', 'messages[12].content[1].type'],
    ['/stream_options/include_usage', 'stream_options.include_usage'],
    ['/logit_bias/50256', 'logit_bias[50256]'],
  ])('%s → %s', (path, param) => {
    expect(toParam(path)).toBe(param)
  })

  it('the root is null', () => {
    expect(toParam('')).toBeNull()
    expect(toParam('/')).toBeNull()
  })
})

describe('fromFastifyError: validation', () => {
  it('a missing required property is named as the param', () => {
    const error = fromFastifyError(
      validationError([
        { instancePath: '', keyword: 'required', message: "must have required property 'messages'", params: { missingProperty: 'messages' } },
      ]),
      LIMIT,
    )
    expect(error).toBeInstanceOf(InvalidRequestError)
    expect(error?.status).toBe(400)
    expect(error?.type).toBe('invalid_request_error')
    expect(error?.param).toBe('messages')
    expect(error?.message).toContain("'messages'")
    expect(error?.message).toContain('required')
  })

  it('a missing property inside an array item is named with its index', () => {
    const error = fromFastifyError(
      validationError([
        { instancePath: '/messages/2', keyword: 'required', message: "must have required property 'role'", params: { missingProperty: 'role' } },
      ]),
      LIMIT,
    )
    expect(error?.param).toBe('messages[2].role')
  })

  it('a wrong type names the field and keeps Ajv\'s explanation', () => {
    const error = fromFastifyError(
      validationError([{ instancePath: '/temperature', keyword: 'maximum', message: 'must be <= 2', params: { comparison: '<=', limit: 2 } }]),
      LIMIT,
    )
    expect(error?.param).toBe('temperature')
    expect(error?.message).toContain('must be <= 2')
  })

  it('enum errors list the allowed values', () => {
    const error = fromFastifyError(
      validationError([
        { instancePath: '/messages/0/role', keyword: 'enum', message: 'must be equal to one of the allowed values', params: { allowedValues: ['system', 'user'] } },
      ]),
      LIMIT,
    )
    expect(error?.param).toBe('messages[0].role')
    expect(error?.message).toContain('["system","user"]')
  })

  it('of several errors, the deepest path is reported (union branches before the union)', () => {
    const error = fromFastifyError(
      validationError([
        { instancePath: '/stop', keyword: 'type', message: 'must be string', params: { type: 'string' } },
        { instancePath: '/stop/3', keyword: 'minLength', message: 'must NOT have fewer than 1 characters', params: { limit: 1 } },
        { instancePath: '/stop', keyword: 'anyOf', message: 'must match a schema in anyOf', params: {} },
      ]),
      LIMIT,
    )
    expect(error?.param).toBe('stop[3]')
    expect(error?.message).toContain('fewer than 1')
  })

  it('an anyOf error says the type is wrong', () => {
    const error = fromFastifyError(
      validationError([{ instancePath: '/stop', keyword: 'anyOf', message: 'must match a schema in anyOf', params: {} }]),
      LIMIT,
    )
    expect(error?.param).toBe('stop')
    expect(error?.message).toMatch(/wrong type/)
  })

  it('an error about the whole body has a null param', () => {
    const error = fromFastifyError(validationError([{ instancePath: '', keyword: 'type', message: 'must be object', params: { type: 'object' } }]), LIMIT)
    expect(error).toBeInstanceOf(InvalidRequestError)
    expect(error?.param).toBeNull()
    expect(error?.message).toContain('must be object')
  })
})

describe('fromFastifyError: parser errors', () => {
  it('body too large → 413 naming the limit', () => {
    const error = fromFastifyError(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE(), LIMIT)
    expect(error).toBeInstanceOf(PayloadTooLargeError)
    expect(error?.status).toBe(413)
    expect(error?.type).toBe('invalid_request_error')
    expect(error?.message).toContain(String(LIMIT))
  })

  it('wrong media type → 400 invalid_request_error, not 415', () => {
    const error = fromFastifyError(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(), LIMIT)
    expect(error?.status).toBe(400)
    expect(error?.type).toBe('invalid_request_error')
    expect(error?.message).toMatch(/application\/json/)
  })

  it('invalid JSON → 400 invalid_request_error', () => {
    const error = fromFastifyError(new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY(), LIMIT)
    expect(error?.status).toBe(400)
    expect(error?.type).toBe('invalid_request_error')
    expect(error?.message).toMatch(/not valid JSON/)
    expect(error?.param).toBeNull()
  })

  it('empty JSON body → 400 invalid_request_error', () => {
    const error = fromFastifyError(new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY(), LIMIT)
    expect(error?.status).toBe(400)
    expect(error?.type).toBe('invalid_request_error')
  })

  it('a raw SyntaxError from a JSON parser → 400', () => {
    let syntax: unknown
    try {
      JSON.parse('{"a":')
    } catch (error) {
      syntax = error
    }
    const error = fromFastifyError(syntax as FastifyError, LIMIT)
    expect(error?.status).toBe(400)
    expect(error?.type).toBe('invalid_request_error')
  })

  it('errors it does not know are left alone (null)', () => {
    const other = Object.assign(new Error('boom'), { statusCode: 500 }) as FastifyError
    expect(fromFastifyError(other, LIMIT)).toBeNull()
    const routeBad = Object.assign(new Error('bad thing'), { statusCode: 400, code: 'SOMETHING' }) as FastifyError
    expect(fromFastifyError(routeBad, LIMIT)).toBeNull()
  })

  it('errorBody wraps a ServeError in OpenAI\'s envelope', () => {
    const error = new InvalidRequestError('bad', 'messages[0].role', 'some_code')
    expect(errorBody(error)).toEqual({ error: { message: 'bad', type: 'invalid_request_error', param: 'messages[0].role', code: 'some_code' } })
  })
})

describe('fromFastifyError with errors from a real Fastify instance', () => {
  const app = Fastify({ bodyLimit: 64 })
  beforeAll(async () => {
    app.setErrorHandler((error: FastifyError, _request, reply) => {
      const served = fromFastifyError(error, 64)
      if (!served) return reply.code(500).send({ unmapped: error.code ?? error.message })
      return reply.code(served.status).send(errorBody(served))
    })
    app.post(
      '/x',
      {
        schema: {
          body: {
            type: 'object',
            required: ['messages'],
            properties: { messages: { type: 'array', items: { type: 'object', required: ['role'], properties: { role: { type: 'string' } } } } },
          },
        },
      },
      async () => ({ ok: true }),
    )
    await app.ready()
  })
  afterAll(() => app.close())

  const post = (payload: string, contentType = 'application/json') =>
    app.inject({ method: 'POST', url: '/x', payload, headers: { 'content-type': contentType } })

  it('missing required property → 400 naming it', async () => {
    const response = await post('{}')
    expect(response.statusCode).toBe(400)
    expect(response.json().error).toMatchObject({ type: 'invalid_request_error', param: 'messages' })
  })

  it('missing property inside an array item → 400 naming its path', async () => {
    const response = await post('{"messages":[{"role":"user"},{}]}')
    expect(response.statusCode).toBe(400)
    expect(response.json().error.param).toBe('messages[1].role')
  })

  it('invalid JSON → 400', async () => {
    const response = await post('{"messages": [')
    expect(response.statusCode).toBe(400)
    expect(response.json().error).toMatchObject({ type: 'invalid_request_error', param: null })
  })

  it('wrong media type → 400', async () => {
    const response = await post('hello', 'text/plain')
    expect(response.statusCode).toBe(400)
    expect(response.json().error.type).toBe('invalid_request_error')
  })

  it('body over the limit → 413', async () => {
    const response = await post(JSON.stringify({ messages: [{ role: 'x'.repeat(100) }] }))
    expect(response.statusCode).toBe(413)
    expect(response.json().error.type).toBe('invalid_request_error')
  })

  it('a successful request is untouched', async () => {
    const response = await post('{"messages":[]}')
    expect(response.statusCode).toBe(200)
  })

  it('the mapped errors are ServeErrors', () => {
    expect(fromFastifyError(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE(), 1)).toBeInstanceOf(ServeError)
  })
})

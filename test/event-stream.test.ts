import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { sendEventStream, startWithPings, withHeartbeat, type EventFrame } from '../src/http/event-stream.js'
import { PING, sendSse, startIterable } from '../src/http/sse.js'
import { InvalidRequestError, OverloadedError } from '../src/errors.js'
import { collect } from './helpers/async.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function* slow(items: Array<[number, string]>): AsyncGenerator<string> {
  for (const [delayMs, item] of items) {
    await sleep(delayMs)
    yield item
  }
}

describe('withHeartbeat', () => {
  it('puts a ping in each silence of the interval, none while items flow', async () => {
    const out = await collect(withHeartbeat(slow([[0, 'a'], [170, 'b'], [0, 'c']]), 50, () => 'ping'))
    expect(out[0]).toBe('a')
    expect(out.slice(-2)).toEqual(['b', 'c'])
    const pings = out.filter((x) => x === 'ping').length
    expect(pings).toBeGreaterThanOrEqual(1) // timers only run late, so at least the first fires before 'b'
    expect(out.indexOf('b')).toBe(pings + 1) // every ping came in the gap
  })

  it('a source that fails before the first interval fails the first await (the plain HTTP error path)', async () => {
    async function* failing(): AsyncGenerator<string> {
      throw new OverloadedError(1)
    }
    await expect(startIterable(withHeartbeat(failing(), 1000, () => 'ping'))).rejects.toBeInstanceOf(OverloadedError)
  })

  it('returning early returns the source', async () => {
    let returned = false
    async function* source(): AsyncGenerator<string> {
      try {
        yield 'a'
        yield 'b'
      } finally {
        returned = true
      }
    }
    for await (const item of withHeartbeat(source(), 1000, () => 'ping')) if (item === 'a') break
    expect(returned).toBe(true)
  })
})

describe('sendEventStream', () => {
  it('frames named events; an error after the first frame becomes the error frame and ends the stream', async () => {
    const app = Fastify()
    app.get('/', async (_request, reply) => {
      async function* frames(): AsyncGenerator<EventFrame> {
        yield { event: 'message_start', data: { type: 'message_start' } }
        throw new InvalidRequestError('went wrong', null)
      }
      return sendEventStream(reply, frames(), (error) => [{ event: 'error', data: { type: 'error', error: { type: error.type, message: error.message } } }])
    })
    const response = await app.inject({ method: 'GET', url: '/' })
    expect(response.headers['content-type']).toBe('text/event-stream; charset=utf-8')
    expect(response.body).toBe(
      'event: message_start\ndata: {"type":"message_start"}\n\n' +
        'event: error\ndata: {"type":"error","error":{"type":"invalid_request_error","message":"went wrong"}}\n\n',
    )
    await app.close()
  })
})

describe('startWithPings', () => {
  it('a source silent past the interval starts with PINGs, then its items', async () => {
    const out = await collect(await startWithPings(slow([[120, 'a']]), 30))
    expect(out[0]).toBe(PING)
    expect(out.at(-1)).toBe('a')
    expect(out.slice(0, -1).every((item) => item === PING)).toBe(true)
  })

  it('a source that fails before the interval rejects the start (the plain HTTP error path)', async () => {
    async function* failing(): AsyncGenerator<string> {
      throw new OverloadedError(1)
    }
    await expect(startWithPings(failing(), 1000)).rejects.toBeInstanceOf(OverloadedError)
  })
})

describe('PING on the wire', () => {
  it('is the comment line `: ping` in OpenAI data streams and in named-event streams, with no event of its own', async () => {
    const app = Fastify()
    async function* items<T>(...list: T[]): AsyncGenerator<T> {
      yield* list
    }
    app.get('/data', async (_request, reply) => sendSse(reply, items<unknown>(PING, { a: 1 }, PING)))
    app.get('/events', async (_request, reply) =>
      sendEventStream(reply, items<EventFrame | typeof PING>(PING, { event: 'response.created', data: { sequence_number: 0 } }), () => []),
    )
    expect((await app.inject({ method: 'GET', url: '/data' })).body).toBe(': ping\n\ndata: {"a":1}\n\n: ping\n\ndata: [DONE]\n\n')
    expect((await app.inject({ method: 'GET', url: '/events' })).body).toBe(': ping\n\nevent: response.created\ndata: {"sequence_number":0}\n\n')
    await app.close()
  })
})

import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { sendEventStream, withHeartbeat, type EventFrame } from '../src/http/event-stream.js'
import { startIterable } from '../src/http/sse.js'
import { InvalidRequestError, OverloadedError } from '../src/errors.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function* slow(items: Array<[number, string]>): AsyncGenerator<string> {
  for (const [delayMs, item] of items) {
    await sleep(delayMs)
    yield item
  }
}

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of source) out.push(item)
  return out
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

import type { FastifyReply, FastifyRequest } from 'fastify'
import { UsageTotals } from '../api/codec/fold-events.js'
import { abortSignalFor } from './abort-signal.js'
import type { GenerationRequest } from '../generation/request.js'
import type { GenerationEvent } from '../generation/events.js'

/**
 * Hands a request to the backend with the HTTP request's lifetime attached: the socket closing before
 * the reply is complete aborts it (queued or running), and usage and timings are kept on the request
 * for its log line.
 */
export function submitFor(
  request: FastifyRequest,
  reply: FastifyReply,
  generation: GenerationRequest,
  /** Also cancels this request (a batch whose sibling could not be queued). */
  linked?: AbortSignal,
): AsyncIterable<GenerationEvent> {
  if (request.server.logPrompts) request.generationLog.prompt = generation.input
  const gone = abortSignalFor(reply)
  const events = request.server.models.submit(generation, {
    signal: linked ? AbortSignal.any([gone, linked]) : gone,
    onTimings: (timings) => {
      request.generationLog.timings = timings
    },
  })
  return tapUsage(events, request)
}

async function* tapUsage(events: AsyncIterable<GenerationEvent>, request: FastifyRequest): AsyncGenerator<GenerationEvent> {
  const log = request.generationLog
  const usage = new UsageTotals()
  for await (const event of events) {
    if (event.type === 'reasoning' && log.prompt !== undefined) log.reasoning = (log.reasoning ?? '') + event.text
    if (event.type === 'text' && log.prompt !== undefined) log.output = (log.output ?? '') + event.text
    if (event.type === 'finished') {
      usage.add(event.usage)
      log.usage = usage.total()
      log.finishReason = event.reason
    }
    yield event
  }
}

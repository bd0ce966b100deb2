import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startImpatientServer, type TestServer } from '../helpers/test-server.js'
import { errorBodyProblems } from './answer-checks.js'
import { FUZZ_PLAN, generateCases, type FuzzCase } from './fuzz-cases.js'
import { capturingLogger, logProblems } from './log-capture.js'
import { mapPool } from './pool.js'
import { httpRequest, rawRequest } from './raw-http.js'
import { expectIdle } from './server-state.js'

const SEED = 0x5eed_0008
const CONCURRENCY = 8

interface Answer {
  status: number
  body: string
  /** What the client sent, as text: leak patterns it contains are not the server's leaks. */
  sent: string
  head: boolean
}

async function send(origin: string, fuzzCase: FuzzCase): Promise<Answer> {
  const { wire } = fuzzCase
  if (wire.kind === 'raw') {
    const reply = await rawRequest(origin, wire.bytes, { head: wire.head, waitMs: wire.waitMs })
    return { status: reply.status, body: reply.body, sent: wire.bytes.toString('latin1'), head: wire.head === true }
  }
  const sent = `${wire.path} ${wire.body?.toString('latin1') ?? ''}`
  try {
    const response = await fetch(origin + wire.path, { method: wire.method, headers: wire.headers, body: wire.body, redirect: 'manual' })
    return { status: response.status, body: await response.text(), sent, head: false }
  } catch (error) {
    return { status: 0, body: String(error), sent, head: false }
  }
}

/** Everything wrong with one answer. */
function problemsOf(fuzzCase: FuzzCase, answer: Answer): string[] {
  const problems: string[] = []
  if (answer.status === 0) problems.push('no answer (connection closed)')
  if (answer.status >= 500) problems.push(`status ${answer.status}`)
  if (fuzzCase.expect === '4xx' && !(answer.status >= 400 && answer.status < 500)) problems.push(`expected 4xx, got ${answer.status}`)
  if (answer.status >= 400 && !answer.head) problems.push(...errorBodyProblems(answer.body, answer.sent))
  return problems
}

function describeCase(fuzzCase: FuzzCase): string {
  const { wire } = fuzzCase
  const text = wire.kind === 'raw' ? wire.bytes.toString('latin1') : `${wire.method} ${wire.path} ${JSON.stringify(wire.headers)} ${wire.body?.toString() ?? ''}`
  return text.length > 300 ? `${text.slice(0, 300)}… (${text.length} bytes)` : text
}

/** Counts per category and status, as a table for the log. */
function summarize(results: Array<{ fuzzCase: FuzzCase; answer: Answer; problems: string[] }>): string {
  const statuses = [...new Set(results.map((r) => r.answer.status))].sort((a, b) => a - b)
  const header = ['category', 'cases', 'must-4xx', 'may-200', ...statuses.map(String), 'problems']
  const rows = FUZZ_PLAN.map(([category]) => {
    const mine = results.filter((r) => r.fuzzCase.category === category)
    return [
      category,
      mine.length,
      mine.filter((r) => r.fuzzCase.expect === '4xx').length,
      mine.filter((r) => r.fuzzCase.expect === 'any').length,
      ...statuses.map((s) => mine.filter((r) => r.answer.status === s).length),
      mine.filter((r) => r.problems.length > 0).length,
    ]
  })
  const total = header.map((_, i) => (i === 0 ? 'total' : rows.reduce((sum, row) => sum + Number(row[i]), 0)))
  return [header, ...rows, total].map((row) => row.map((cell, i) => String(cell).padStart(i === 0 ? 0 : 8).padEnd(i === 0 ? 16 : 0)).join(' ')).join('\n')
}

/** Failures grouped by what went wrong (the problem without its details), with one request each. */
function problemKinds(failed: Array<{ fuzzCase: FuzzCase; problems: string[] }>): string {
  const kinds = new Map<string, { count: number; example: FuzzCase }>()
  for (const { fuzzCase, problems } of failed) {
    const kind = problems.map((p) => p.slice(0, 90)).join('; ')
    const seen = kinds.get(kind)
    if (seen) seen.count++
    else kinds.set(kind, { count: 1, example: fuzzCase })
  }
  return [...kinds].map(([kind, { count, example }]) => `${count} × ${kind}\n    e.g. ${describeCase(example)}`).join('\n')
}

describe(`fuzzing the HTTP API (seed ${SEED})`, () => {
  let t: TestServer
  const log = capturingLogger()
  const prototypeKeysBefore = Object.getOwnPropertyNames(Object.prototype).sort()

  beforeAll(async () => {
    // Small deadlines so that slow clients and bodies that never arrive are cut off quickly.
    t = await startImpatientServer(4, { maxTokens: '8' }, log.logger)
  })
  afterAll(() => t?.close())

  it('answers thousands of malformed and adversarial requests with well-formed 4xx errors, never a 5xx', async () => {
    const cases = generateCases(SEED)
    const started = performance.now()
    const results = await mapPool(cases, CONCURRENCY, async (fuzzCase) => {
      const answer = await send(t.origin, fuzzCase)
      return { fuzzCase, answer, problems: problemsOf(fuzzCase, answer) }
    })
    const failed = results.filter((r) => r.problems.length > 0)
    console.log(
      `fuzz seed ${SEED}: ${cases.length} cases in ${((performance.now() - started) / 1000).toFixed(1)} s, ` +
        `${cases.filter((c) => c.expect === '4xx').length} must be 4xx, ${cases.filter((c) => c.expect === 'any').length} may be 200\n` +
        summarize(results),
    )
    const warnings = log.lines.filter((line) => line.level >= 40)
    if (warnings.length > 0) console.log(`server warnings and errors (${warnings.length}):\n${warnings.slice(0, 10).map((l) => JSON.stringify(l)).join('\n')}`)
    if (failed.length > 0) console.log(problemKinds(failed))
    const report = failed.slice(0, 25).map((r) => `[${r.fuzzCase.category}] ${r.problems.join('; ')}\n    ${describeCase(r.fuzzCase)}`)
    expect(report, `${failed.length} of ${cases.length} answers had problems`).toEqual([])
    expect(cases.length).toBeGreaterThanOrEqual(3000)
    // "No 5xx" means no server error only if none hid behind a 4xx: the server's own log must agree.
    expect(logProblems(log.lines).slice(0, 10)).toEqual([])
    expect(log.lines.filter((l) => l.msg === 'request').length, 'request lines are in the log (the check above reads them)').toBeGreaterThan(cases.length / 2)
  })

  it('keeps nothing of the prototype-pollution attempts', () => {
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeysBefore)
  })

  it('cuts off slowloris clients (headers or body dribbled out) with 408 and keeps answering meanwhile', async () => {
    const headerBytes = [...'POST /v1/chat/completions HTTP/1.1\r\nHost: fuzz\r\nX-Slow: '].map((c) => Buffer.from(c, 'latin1'))
    const body = JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 })
    const head = httpRequest('POST', '/v1/chat/completions', [['Host', 'fuzz'], ['Content-Type', 'application/json'], ['Content-Length', String(body.length)]])
    const bodyBytes = [head, ...[...body].map((c) => Buffer.from(c))]
    const slow = [
      ...Array.from({ length: 3 }, () => rawRequest(t.origin, [...headerBytes, ...Array<Buffer>(200).fill(Buffer.from('a'))], { pieceDelayMs: 100, waitMs: 20_000 })),
      ...Array.from({ length: 3 }, () => rawRequest(t.origin, bodyBytes, { pieceDelayMs: 300, waitMs: 20_000 })),
    ]
    // While they dribble, others are served.
    const served = await t.client.chat.completions.create({ model: 'tiny-chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 })
    expect(served.choices[0]!.message.role).toBe('assistant')
    for (const reply of await Promise.all(slow)) {
      expect(reply.status).toBe(408)
      expect(reply.closedAfterMs).toBeLessThan(10_000)
      expect(errorBodyProblems(reply.body)).toEqual([])
    }
  })

  it('is healthy and idle afterwards, and still answers a normal chat request', async () => {
    await expectIdle(t.origin)
    const reply = await t.client.chat.completions.create({ model: 'tiny-chat', messages: [{ role: 'user', content: 'Tell me a story' }], max_tokens: 8, seed: 1 })
    expect(reply.choices[0]!.message.content).toEqual(expect.any(String))
    expect(reply.choices[0]!.finish_reason).toMatch(/^(stop|length)$/)
    expect(reply.usage!.completion_tokens).toBeGreaterThan(0)
  })
})

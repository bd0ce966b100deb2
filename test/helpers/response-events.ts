const PARTS: Record<string, { part?: string; delta: string; done: string }> = {
  message: { part: 'output_text', delta: 'response.output_text.delta', done: 'response.output_text.done' },
  reasoning: { part: 'reasoning_text', delta: 'response.reasoning_text.delta', done: 'response.reasoning_text.done' },
  function_call: { delta: 'response.function_call_arguments.delta', done: 'response.function_call_arguments.done' },
}

/**
 * Checks a Responses event stream's grammar and returns its final response: `sequence_number` 0, 1, 2, …;
 * `response.created`, `response.in_progress`; per output item (at output_index 0, 1, …) `output_item.added`,
 * its content part (messages and reasoning), deltas, `….done` holding the deltas joined, the part's done,
 * `output_item.done`; then exactly one terminal event, last. Throws with the offending event otherwise.
 */
export function checkResponseStream(events: any[]): any {
  const fail = (i: number, why: string): never => {
    throw new Error(`event ${i} (${events[i]?.type}): ${why}\n${events.map((e) => e.type).join('\n')}`)
  }
  events.forEach((e, i) => e.sequence_number !== i && fail(i, `sequence_number ${e.sequence_number}`))
  if (events[0]?.type !== 'response.created' || events[1]?.type !== 'response.in_progress') fail(0, 'expected created, in_progress')
  let i = 2
  let index = 0
  const expectType = (type: string, id: string) => {
    const e = events[i]
    if (e?.type !== type) fail(i, `expected ${type}`)
    if (type !== 'response.output_item.done' && (e.item_id !== id || e.output_index !== index)) fail(i, 'wrong item_id or output_index')
    return events[i++]
  }
  while (events[i]?.type === 'response.output_item.added') {
    const { item, output_index } = events[i]
    if (output_index !== index) fail(i, `output_index ${output_index}, expected ${index}`)
    const kind = PARTS[item.type] ?? fail(i, `item type ${item.type}`)
    i++
    if (kind.part) expectType('response.content_part.added', item.id)
    let joined = ''
    while (events[i]?.type === kind.delta) joined += expectType(kind.delta, item.id).delta
    const done = expectType(kind.done, item.id)
    if ((done.text ?? done.arguments) !== joined) fail(i - 1, 'done text is not the deltas joined')
    if (kind.part) expectType('response.content_part.done', item.id)
    const closed = expectType('response.output_item.done', item.id)
    if (closed.item.id !== item.id || closed.output_index !== index) fail(i - 1, 'output_item.done names another item')
    index++
  }
  const terminal = events[i]
  if (!['response.completed', 'response.incomplete', 'response.failed'].includes(terminal?.type) || i !== events.length - 1) fail(i, 'expected one terminal event, last')
  if (terminal.response.output.length !== index) fail(i, 'the final response does not hold every item')
  return terminal.response
}

/**
 * What a stored conversation costs: time to first token of a `previous_response_id` request against the
 * same conversation sent in full (`store: false`), on the built server.
 *
 *   npm run build && npx tsx bench/responses-store.ts [--responses-store redis://127.0.0.1:6379] [model.gguf]
 *
 * Each round builds a fresh three-turn chain (turn 1, then turn 2 with previous_response_id), so the slot
 * (one: `--parallel 1`) holds the same cached prefix before the measured third turn; the third turn is sent
 * either as previous_response_id + the new message, or as every item in full, alternating, and its time to
 * the first `response.output_text.delta` is taken as the bytes arrive. Reports medians and the prompt and
 * cached token counts. Defaults: the generated ~100M-parameter llama, ROUNDS=8.
 */
import { ensureSyntheticModel } from '../src/gguf/make-model.js'
import { median, repoRoot as root, startServerProcess } from './lib/server-process.js'

const ROUNDS = Number(process.env.ROUNDS ?? 8)
const args = process.argv.slice(2)
const storeArgs = args[0] === '--responses-store' ? args.splice(0, 2) : []
const model = args[0] ?? (await ensureSyntheticModel(`${root}bench/models/synthetic-100m.gguf`, '100m', { seed: 7 }))
const instructions = Array.from({ length: 20 }, (_, i) => `Rule ${i}: answer briefly and stay on the topic of llamas.`).join(' ')

const server = await startServerProcess(['--model', model, '--parallel', '1', '--context-size', '2048', ...storeArgs])
try {
  const post = async (body: object) => {
    const started = performance.now()
    const response = await fetch(`${server.origin}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: undefined, instructions, max_output_tokens: 8, temperature: 0, ...body }),
    })
    if (!response.ok) throw new Error(`${response.status} ${await response.text()}`)
    if (!('stream' in body)) return { json: (await response.json()) as any, ttftMs: 0 }
    const reader = response.body!.getReader()
    let text = ''
    let ttftMs = 0
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      text += Buffer.from(value).toString()
      if (!ttftMs && text.includes('event: response.output_text.delta')) ttftMs = performance.now() - started
    }
    const final = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6))).at(-1)
    return { json: final.response, ttftMs }
  }
  const results: Record<'previous_response_id' | 'full input', Array<{ ttftMs: number; input: number; cached: number }>> = {
    previous_response_id: [],
    'full input': [],
  }
  for (let round = 0; round < ROUNDS * 2; round++) {
    const topic = `Round ${round}: tell me about llama number ${round}.`
    const one = (await post({ input: topic })).json
    const two = (await post({ input: 'And its favourite food?', previous_response_id: one.id })).json
    const third = 'And where does it live?'
    const viaId = round % 2 === 0
    const measured = viaId
      ? await post({ input: third, previous_response_id: two.id, stream: true })
      : await post({
          input: [{ role: 'user', content: topic }, ...one.output, { role: 'user', content: 'And its favourite food?' }, ...two.output, { role: 'user', content: third }],
          store: false,
          stream: true,
        })
    const usage = measured.json.usage
    results[viaId ? 'previous_response_id' : 'full input'].push({ ttftMs: measured.ttftMs, input: usage.input_tokens, cached: usage.input_tokens_details.cached_tokens })
  }
  console.log(`model ${model.split('/').at(-1)}, store ${storeArgs[1] ?? 'in process'}, ${ROUNDS} rounds each`)
  for (const [name, runs] of Object.entries(results)) {
    const ttft = runs.map((r) => r.ttftMs)
    console.log(
      `${name.padEnd(22)} TTFT median ${median(ttft).toFixed(1)} ms (min ${Math.min(...ttft).toFixed(1)}, max ${Math.max(...ttft).toFixed(1)}); ` +
        `input_tokens ${median(runs.map((r) => r.input))}, cached_tokens ${median(runs.map((r) => r.cached))}`,
    )
  }
} finally {
  await server.stop()
}

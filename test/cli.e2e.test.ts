import { copyFileSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import OpenAI from 'openai'
import { afterEach, describe, expect, it } from 'vitest'
import { cliRunner, waitHealthy } from './helpers/cli-process.js'
import { TINY_MODEL_PATH } from './helpers/models.js'

const start = cliRunner()
const servers: Server[] = []
afterEach(async () => {
  for (const server of servers.splice(0)) server.close()
})

const tmp = () => mkdtempSync(join(tmpdir(), 'gguf-serve-cli-'))
const base = ['start', '--port', '0', '--threads', '1', '--context-size', '512', '--parallel', '2']

describe('command line', () => {
  it('--help describes every start flag', async () => {
    const run = start(['start', '--help'])
    expect(await run.exited).toBe(0)
    for (const flag of ['--model', '--config', '--host', '--port', '--context-size', '--gpu', '--gpu-layers', '--threads', '--parallel', '--api-key', '--log-level']) {
      expect(run.output()).toContain(flag)
    }
  })

  it.each([
    ['a bad flag value', [...base, '--model', TINY_MODEL_PATH, '--port', 'eighty'], /server\.port.*--port.*integer/],
    ['a bad environment value', [...base, '--model', TINY_MODEL_PATH], /GGUF_SERVE_GPU_LAYERS.*"auto" or an integer/, { GGUF_SERVE_GPU_LAYERS: 'many' }],
    ['an unknown flag', [...base, '--modle', 'x'], /unknown option/],
  ])('exits non-zero on %s, naming it', async (_name, args, message, env?: Record<string, string>) => {
    const run = start(args, env)
    expect(await run.exited).not.toBe(0)
    expect(run.output()).toMatch(message)
  })

  it('exits non-zero on a bad config file key, naming the key', async () => {
    const dir = tmp()
    writeFileSync(join(dir, 'c.yaml'), `server:\n  port: 0\n  prot: 1\nmodels:\n  - source: ${TINY_MODEL_PATH}\n`)
    const run = start(['start', '--config', join(dir, 'c.yaml')])
    expect(await run.exited).toBe(1)
    expect(run.output()).toContain("Unknown config key 'server.prot'")
  })

  it('exits 1 with one clear line for a missing, non-GGUF or truncated model file', async () => {
    const dir = tmp()
    writeFileSync(join(dir, 'notes.gguf'), 'this is not a model')
    writeFileSync(join(dir, 'cut.gguf'), readFileSync(TINY_MODEL_PATH).subarray(0, 100_000))
    for (const [file, message] of [
      [join(dir, 'missing.gguf'), /not found/i],
      [join(dir, 'notes.gguf'), /GGUF/],
      [join(dir, 'cut.gguf'), /truncated/i],
    ] as const) {
      const run = start([...base, '--model', file])
      expect(await run.exited).toBe(1)
      const errorLine = run.output().split('\n').find((l) => l.startsWith('gguf-serve:'))
      expect(errorLine).toMatch(message)
      expect(run.output()).not.toMatch(/\n\s+at /) // no stack trace
    }
  }, 180_000) // several CLI processes, each loading the native addon: slow on a busy machine
})

describe('serving from the command line', () => {
  it('opens the port before the model is ready, downloads a URL model once, and reuses it', async () => {
    let gets = 0
    const file = readFileSync(TINY_MODEL_PATH)
    const server = createServer((req, res) => {
      gets++
      // Slow enough that /health is seen answering "loading" first.
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': file.length })
        res.end(file)
      }, 700)
    })
    servers.push(server)
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const modelUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/models/tiny-chat.gguf`
    const cacheDir = tmp()

    const first = start([...base, '--model', modelUrl, '--cache-dir', cacheDir])
    const origin = await first.url
    const statuses = await waitHealthy(origin)
    expect(statuses[0]).toBe(503)
    expect(statuses.at(-1)).toBe(200)
    const client = new OpenAI({ baseURL: `${origin}/v1`, apiKey: 'x', maxRetries: 0 })
    expect((await client.models.list()).data[0]!.id).toBe('tiny-chat')
    const reply = await client.chat.completions.create({ model: 'tiny-chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 })
    expect(reply.choices[0]!.message.role).toBe('assistant')
    first.child.kill('SIGTERM')
    expect(await first.exited).toBe(0)
    expect(readdirSync(cacheDir).some((f) => f.endsWith('.gguf'))).toBe(true)
    const downloads = gets

    const second = start([...base, '--model', modelUrl, '--cache-dir', cacheDir])
    await waitHealthy(await second.url)
    expect(gets).toBe(downloads)
    second.child.kill('SIGTERM')
    expect(await second.exited).toBe(0)
  }, 180_000) // several CLI processes, each loading the native addon: slow on a busy machine

  it('on SIGTERM lets an in-flight stream finish, then exits 0', async () => {
    const dir = tmp()
    const model = join(dir, 'tiny.gguf')
    copyFileSync(TINY_MODEL_PATH, model)
    const run = start([...base, '--model', model])
    const origin = await run.url
    await waitHealthy(origin)
    const client = new OpenAI({ baseURL: `${origin}/v1`, apiKey: 'x', maxRetries: 0 })
    const stream = await client.chat.completions.create({
      model: 'tiny',
      messages: [{ role: 'user', content: 'Go on for a while' }],
      max_tokens: 300,
      temperature: 1,
      seed: 4,
      stream: true,
    })
    let chunks = 0
    let finish: string | null = null
    for await (const chunk of stream) {
      if (chunks++ === 1) run.child.kill('SIGTERM')
      finish = chunk.choices[0]?.finish_reason ?? finish
    }
    expect(chunks).toBeGreaterThan(2)
    expect(finish).not.toBeNull()
    expect(await run.exited).toBe(0)
    expect(run.output()).toContain('shutting down')
  }, 180_000) // several CLI processes, each loading the native addon: slow on a busy machine
})

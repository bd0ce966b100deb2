import { execFile } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_MODEL } from '../src/models/default-model.js'
import { TINY_MODEL_PATH } from './helpers/models.js'
import { startTestServer, type TestServer } from './helpers/test-server.js'

/**
 * The README's client snippets, run as written against the real server: every ```js block and every curl
 * command that names http://127.0.0.1:8080. Only the origin is replaced (the test server listens on a free
 * port); the tiny model is served under the default model's id, so the snippets need no change.
 */

const README = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8')
const ORIGIN = 'http://127.0.0.1:8080'
// Inside the repository, so that the snippets' imports resolve to its node_modules, as they do in a clone.
const SNIPPET_DIR = fileURLToPath(new URL('./artifacts/readme-snippets/', import.meta.url))
const run = promisify(execFile)

function codeBlocks(language: string): string[] {
  return [...README.matchAll(new RegExp(`^\`\`\`${language}\\n([\\s\\S]*?)^\`\`\`$`, 'gm'))].map((m) => m[1]!)
}

const jsSnippets = codeBlocks('js').filter((code) => code.includes(ORIGIN))
const curlCommands = codeBlocks('sh')
  .flatMap((code) => code.replace(/\\\n\s*/g, '').split('\n'))
  .filter((line) => line.startsWith(`curl ${ORIGIN}`))

/** A title for each snippet: what it imports, e.g. "@langchain/openai". */
const title = (code: string) => [...code.matchAll(/from '([^']+)'/g)].map((m) => m[1]).join(' + ')

let server: TestServer
const requests: Array<{ route?: string; status?: number }> = []

beforeAll(async () => {
  const log = pino({ level: 'info' }, { write: (line: string) => void requests.push(JSON.parse(line)) })
  // --max-tokens keeps the tiny model's random text short when a snippet asks for no limit.
  server = await startTestServer({ model: [`${DEFAULT_MODEL.id}=${TINY_MODEL_PATH}`], maxTokens: '48' }, log)
  mkdirSync(SNIPPET_DIR, { recursive: true })
})
afterAll(() => server?.close())

const chatRequestsOk = () => requests.filter((r) => r.route?.endsWith('/chat/completions') && r.status === 200).length

describe('README snippets', () => {
  it('has the snippets this test runs', () => {
    expect(jsSnippets.length).toBeGreaterThanOrEqual(5)
    expect(curlCommands.length).toBeGreaterThanOrEqual(2)
  })

  it.each(jsSnippets.map((code, index) => [title(code), index, code] as const))('%s (js block %i) runs as written', async (_title, index, code) => {
    const file = `${SNIPPET_DIR}snippet-${index}.mjs`
    writeFileSync(file, code.replaceAll(ORIGIN, server.origin))
    const before = chatRequestsOk()
    // OPENAI_API_KEY is cleared: a snippet must carry its own settings.
    const { stdout } = await run(process.execPath, [file], { timeout: 120_000, env: { ...process.env, OPENAI_API_KEY: '' } })
    expect(typeof stdout).toBe('string')
    expect(chatRequestsOk()).toBeGreaterThan(before)
  }, 150_000)

  it.each(curlCommands.map((command, index) => [index, command] as const))('curl command %i runs as written', async (_index, command) => {
    const { stdout } = await run('bash', ['-c', command.replaceAll(ORIGIN, server.origin)], { timeout: 60_000 })
    expect(stdout).toMatch(/"choices":\[/)
    expect(stdout).not.toContain('"error"')
  }, 90_000)
})

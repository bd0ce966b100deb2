import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import OpenAI from 'openai'
import type { Logger } from 'pino'
import { loadConfig } from '../../src/config/load-config.js'
import { createLogger } from '../../src/observability/logger.js'
import { startServer, type RunningServer } from '../../src/server.js'
import { TINY_MODEL_PATH } from './models.js'

export interface TestServer {
  server: RunningServer
  /** e.g. http://127.0.0.1:41234 */
  origin: string
  client: OpenAI
  close(): Promise<void>
}

/**
 * Starts the real server in-process on a free port, exactly as `gguf-serve start` would with these
 * flags (tiny models run on 1 thread: more threads only contend), and waits until it is ready.
 *
 * With `configYaml`, the server reads that config file instead of serving the tiny model with the flags
 * above: only the port comes from a flag (and `flags`, which override every model), so the file's
 * per-model settings stand; it should set `threads: 1` for tiny models itself.
 */
export async function startTestServer(flags: Record<string, unknown> = {}, logger?: Logger, configYaml?: string): Promise<TestServer> {
  const base =
    configYaml === undefined
      ? { model: [TINY_MODEL_PATH], port: '0', threads: '1', contextSize: '1024', parallel: '2' }
      : { port: '0', config: writeConfigFile(configYaml) }
  const loaded = loadConfig({ flags: { ...base, ...flags }, env: {} })
  const server = await startServer(loaded, logger ?? createLogger(process.env.TEST_LOG_LEVEL === 'debug' ? 'debug' : 'silent'))
  // A failed start still listens: close it so a test that expects the failure leaks nothing.
  await server.ready.catch(async (error: unknown) => {
    await server.close()
    throw error
  })
  const origin = server.url
  const client = new OpenAI({ baseURL: `${origin}/v1`, apiKey: 'test', maxRetries: 0, timeout: 30_000 })
  return { server, origin, client, close: () => server.close() }
}

/** The tiny model behind short client deadlines (headers within 1 s, the whole request within 2 s): slow-client tests. */
export function startImpatientServer(parallel: number, flags: Record<string, unknown> = {}, logger?: Logger): Promise<TestServer> {
  return startTestServer(flags, logger, `
server:
  headersTimeoutMs: 1000
  bodyTimeoutMs: 2000
models:
  - source: ${JSON.stringify(TINY_MODEL_PATH)}
    threads: 1
    contextSize: 512
    parallel: ${parallel}
`)
}

function writeConfigFile(yaml: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'gguf-serve-config-')), 'config.yaml')
  writeFileSync(file, yaml)
  return file
}

/** POSTs raw JSON (or a raw string) and returns status, headers and parsed body. */
export async function postJson(origin: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${origin}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await response.text()
  let json: any = null
  try {
    json = JSON.parse(text)
  } catch {
    // SSE or plain text: the caller reads `text`.
  }
  return { status: response.status, headers: response.headers, text, json }
}


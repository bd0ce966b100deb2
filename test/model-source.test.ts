import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { resolveModelSource, type ResolveModelOptions } from '../src/models/resolve-model.js'
import { describeModelSource } from '../src/models/source-uri.js'
import { StartupError } from '../src/errors.js'
import { waitFor } from './helpers/async.js'

// ipull, under node-llama-cpp's downloader, fetches and records progress in chunks of this size.
const DOWNLOAD_CHUNK_BYTES = 5 * 1024 * 1024

// ---- a minimal GGUF v3 file, written by hand: a few metadata entries and one F32 tensor ----

function ggufString(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8')
  const length = Buffer.alloc(8)
  length.writeBigUInt64LE(BigInt(bytes.length))
  return Buffer.concat([length, bytes])
}

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4)
  buffer.writeUInt32LE(value)
  return buffer
}

function u64(value: number): Buffer {
  const buffer = Buffer.alloc(8)
  buffer.writeBigUInt64LE(BigInt(value))
  return buffer
}

const GGUF_TYPE_UINT32 = 4
const GGUF_TYPE_STRING = 8
const GGML_TYPE_F32 = 0
const GGUF_ALIGNMENT = 32

/** A GGUF v3 file whose one tensor holds `floats` F32 values 0, 1, 2, … */
function buildGguf(floats: number): Buffer {
  const metadata = [
    Buffer.concat([ggufString('general.architecture'), u32(GGUF_TYPE_STRING), ggufString('llama')]),
    Buffer.concat([ggufString('general.name'), u32(GGUF_TYPE_STRING), ggufString('model-source test')]),
    Buffer.concat([ggufString('llama.context_length'), u32(GGUF_TYPE_UINT32), u32(64)]),
  ]
  const tensorInfo = Buffer.concat([ggufString('weight'), u32(1), u64(floats), u32(GGML_TYPE_F32), u64(0)])
  const header = Buffer.concat([Buffer.from('GGUF'), u32(3), u64(1), u64(metadata.length), ...metadata, tensorInfo])
  const padding = Buffer.alloc((GGUF_ALIGNMENT - (header.length % GGUF_ALIGNMENT)) % GGUF_ALIGNMENT)
  const data = Buffer.alloc(floats * 4)
  for (let i = 0; i < floats; i++) data.writeFloatLE(i, i * 4)
  return Buffer.concat([header, padding, data])
}

const SMALL_GGUF = buildGguf(1024)

// ---- a local file server that behaves like a CDN: Content-Length, Accept-Ranges, 206 for Range ----

interface RecordedRequest {
  method: string
  url: string
  range: string | undefined
  userAgent: string | undefined
}

interface FileServer {
  baseUrl: string
  requests: RecordedRequest[]
  files: Map<string, Buffer>
  json: Map<string, unknown>
  /** Cut the connection of the next Range response after this many body bytes. */
  cutNextRangeAfter: number | undefined
  /** Send headers but no body for Range requests starting at or after this offset, until the client gives up. */
  stallRangesFrom: number | undefined
  /** Answer this many next requests with 503. */
  unavailableFor: number
  close(): Promise<void>
}

async function startFileServer(): Promise<FileServer> {
  const state: Omit<FileServer, 'baseUrl' | 'close'> = {
    requests: [],
    files: new Map(),
    json: new Map(),
    cutNextRangeAfter: undefined,
    stallRangesFrom: undefined,
    unavailableFor: 0,
  }
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/'
    const range = req.headers.range
    state.requests.push({ method: req.method ?? 'GET', url, range, userAgent: req.headers['user-agent'] })
    const pathname = new URL(url, 'http://localhost').pathname
    if (state.unavailableFor > 0) {
      state.unavailableFor--
      res.writeHead(503, { 'content-type': 'text/plain' }).end('busy')
      return
    }

    const json = state.json.get(pathname)
    if (json !== undefined) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(json))
      return
    }
    const file = state.files.get(pathname)
    if (file === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
      return
    }
    const match = range === undefined ? null : /^bytes=(\d+)-(\d*)$/.exec(range)
    if (match === null) {
      res.writeHead(200, { 'content-length': file.length, 'accept-ranges': 'bytes' })
      res.end(req.method === 'HEAD' ? undefined : file)
      return
    }
    const start = Number(match[1])
    const end = match[2] ? Math.min(Number(match[2]), file.length - 1) : file.length - 1
    const body = file.subarray(start, end + 1)
    res.writeHead(206, {
      'content-length': body.length,
      'content-range': `bytes ${start}-${end}/${file.length}`,
      'accept-ranges': 'bytes',
    })
    if (state.stallRangesFrom !== undefined && start >= state.stallRangesFrom) {
      res.flushHeaders()
      return
    }
    if (state.cutNextRangeAfter !== undefined) {
      const cutAt = state.cutNextRangeAfter
      state.cutNextRangeAfter = undefined
      res.write(body.subarray(0, cutAt), () => res.socket?.destroy())
      return
    }
    res.end(body)
  })
  server.listen(0, '127.0.0.1')
  await new Promise<void>((resolve) => server.once('listening', resolve))
  const { port } = server.address() as AddressInfo
  return Object.assign(state, {
    baseUrl: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  })
}

// ---- fixtures ----

let server: FileServer
let tempDir: string
let cacheDir: string
let logLines: Array<{ level: number; msg: string } & Record<string, unknown>>

beforeEach(async () => {
  server = await startFileServer()
  tempDir = await mkdtemp(path.join(os.tmpdir(), 'gguf-serve-model-source-'))
  cacheDir = path.join(tempDir, 'cache')
  logLines = []
})

afterEach(async () => {
  await server.close()
  await rm(tempDir, { recursive: true, force: true })
})

function options(overrides: Partial<ResolveModelOptions> = {}): ResolveModelOptions {
  const log = pino({ level: 'info' }, { write: (line: string) => void logLines.push(JSON.parse(line)) })
  return { cacheDir, log, progress: 'log', ...overrides }
}

async function resolveError(source: string, overrides: Partial<ResolveModelOptions> = {}): Promise<StartupError> {
  const error = await resolveModelSource(source, options(overrides)).then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error).toBeInstanceOf(StartupError)
  return error as StartupError
}

/** The one-byte request that checks the server answers before the download starts. */
const isProbe = (request: RecordedRequest) => request.range === 'bytes=0-0'
const downloadRequests = () => server.requests.filter((request) => !isProbe(request))
const rangeStart = (request: RecordedRequest) => Number(/^bytes=(\d+)-/.exec(request.range ?? '')?.[1])

// ---- tests ----

describe('describeModelSource', () => {
  it('tells paths, URLs and both hf: forms apart', () => {
    expect(describeModelSource('models/x.gguf')).toEqual({ kind: 'path', path: path.resolve('models/x.gguf') })
    expect(describeModelSource('https://example.com/a/b.gguf')).toEqual({ kind: 'url', url: 'https://example.com/a/b.gguf' })
    expect(describeModelSource('hf:org/Repo-GGUF:q4_k_m')).toEqual({
      kind: 'hf',
      uri: 'hf:org/Repo-GGUF:q4_k_m',
      repo: 'org/Repo-GGUF',
      tag: 'q4_k_m',
    })
    expect(describeModelSource('hf://org/repo/sub/file.gguf#dev')).toEqual({
      kind: 'hf',
      uri: 'hf:org/repo/sub/file.gguf#dev',
      repo: 'org/repo',
      file: 'sub/file.gguf',
      branch: 'dev',
    })
    expect(() => describeModelSource('hf:org')).toThrow(StartupError)
  })
})

describe('resolveModelSource: downloads', () => {
  it('downloads a URL into the cache, then reuses it without any request', async () => {
    server.files.set('/models/tiny.gguf', SMALL_GGUF)
    const source = `${server.baseUrl}/models/tiny.gguf`

    const first = await resolveModelSource(source, options())
    expect(path.dirname(first)).toBe(cacheDir)
    expect(path.basename(first)).toMatch(/^url_127\.0\.0\.1_\d+_[0-9a-f]{8}_tiny\.gguf$/)
    expect(await readFile(first)).toEqual(SMALL_GGUF)
    expect(server.requests.length).toBeGreaterThan(0)
    expect(logLines.map((line) => line.msg)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^model: downloading/), 'model: download complete']),
    )

    server.requests.length = 0
    const second = await resolveModelSource(source, options())
    expect(second).toBe(first)
    expect(server.requests).toEqual([])
  })

  it('retries a connection cut mid-transfer with a Range request', async () => {
    server.files.set('/tiny.gguf', SMALL_GGUF)
    server.cutNextRangeAfter = 100

    const filePath = await resolveModelSource(`${server.baseUrl}/tiny.gguf`, options())

    const ranged = server.requests.filter((request) => request.range !== undefined)
    expect(ranged.length).toBeGreaterThanOrEqual(2)
    expect(await readFile(filePath)).toEqual(SMALL_GGUF)
  })

  it('resumes an interrupted download on the next start instead of starting over', async () => {
    // Three download chunks: the first completes, the other two stall until the download is aborted.
    const big = buildGguf((2 * DOWNLOAD_CHUNK_BYTES + 1024 * 1024) / 4)
    server.files.set('/big.gguf', big)
    server.stallRangesFrom = DOWNLOAD_CHUNK_BYTES
    const source = `${server.baseUrl}/big.gguf`

    const controller = new AbortController()
    const interrupted = resolveModelSource(source, options({ signal: controller.signal })).then(
      () => undefined,
      (caught: unknown) => caught,
    )
    // ipull appends its progress after the file's final size once a chunk completes: that is what resumes.
    await waitFor(async () => {
      const partial = (await readdir(cacheDir).catch(() => [])).find((name) => name.endsWith('.ipull'))
      return partial !== undefined && (await stat(path.join(cacheDir, partial))).size > big.length
    })
    controller.abort()
    const error = await interrupted
    expect(error).toBeInstanceOf(StartupError)
    expect((error as Error).message).toMatch(/interrupted/)

    server.stallRangesFrom = undefined
    server.requests.length = 0
    const filePath = await resolveModelSource(source, options())

    const starts = downloadRequests().filter((request) => request.range !== undefined).map(rangeStart)
    expect(starts.length).toBeGreaterThan(0)
    expect(starts).not.toContain(0)
    expect(Math.min(...starts)).toBe(DOWNLOAD_CHUNK_BYTES)
    expect(logLines.some((line) => /^model: resuming download/.test(line.msg))).toBe(true)
    // Buffer#equals: a deep toEqual over 11 MiB takes minutes.
    expect((await readFile(filePath)).equals(big)).toBe(true)
  })

  it('resolves hf:<org>/<repo>/<file> through the Hugging Face endpoint', async () => {
    server.files.set('/test-org/tiny-model/resolve/main/tiny.gguf', SMALL_GGUF)
    const source = 'hf:test-org/tiny-model/tiny.gguf'

    const filePath = await resolveModelSource(source, options({ hfEndpoint: server.baseUrl }))
    expect(path.basename(filePath)).toBe('hf_test-org_tiny-model_tiny.gguf')
    expect(await readFile(filePath)).toEqual(SMALL_GGUF)
    expect(new Set(server.requests.map((request) => request.url))).toEqual(
      new Set(['/test-org/tiny-model/resolve/main/tiny.gguf?download=true']),
    )

    server.requests.length = 0
    expect(await resolveModelSource(source, options({ hfEndpoint: server.baseUrl }))).toBe(filePath)
    expect(server.requests).toEqual([])
  })

  it('resolves hf:<org>/<repo>:<quant> through the manifest API', async () => {
    server.json.set('/v2/test-org/Tiny-GGUF/manifests/Q4_K_M', { ggufFile: { rfilename: 'tiny-q4_k_m.gguf' } })
    server.files.set('/test-org/Tiny-GGUF/resolve/main/tiny-q4_k_m.gguf', SMALL_GGUF)
    const source = 'hf:test-org/Tiny-GGUF:Q4_K_M'

    const filePath = await resolveModelSource(source, options({ hfEndpoint: server.baseUrl }))
    expect(path.basename(filePath)).toBe('hf_test-org_Tiny.Q4_K_M.gguf')
    expect(await readFile(filePath)).toEqual(SMALL_GGUF)
    const manifest = server.requests[0]
    expect(manifest?.url).toBe('/v2/test-org/Tiny-GGUF/manifests/Q4_K_M')
    // Hugging Face answers with the ggufFile field only for llama.cpp's user agent.
    expect(manifest?.userAgent).toBe('llama-cpp')
    expect(new Set(downloadRequests().slice(1).map((request) => request.url))).toEqual(
      new Set(['/test-org/Tiny-GGUF/resolve/main/tiny-q4_k_m.gguf?download=true']),
    )

    server.requests.length = 0
    expect(await resolveModelSource(source, options({ hfEndpoint: server.baseUrl }))).toBe(filePath)
    expect(server.requests).toEqual([])
  })

  it('fails with the URL on HTTP 404 and leaves nothing in the cache', async () => {
    const source = `${server.baseUrl}/missing.gguf`
    const error = await resolveError(source)
    expect(error.message).toContain('HTTP 404')
    expect(error.message).toContain(source)
    expect(await readdir(cacheDir).catch(() => [])).toEqual([])
  })

  it('deletes a downloaded file that is not a GGUF model', async () => {
    server.files.set('/page.gguf', Buffer.from('<!DOCTYPE html><html>sign in first</html>'))
    const error = await resolveError(`${server.baseUrl}/page.gguf`)
    expect(error.message).toMatch(/not a GGUF file \(bad magic/)
    expect(error.message).toContain('deleted')
    expect(await readdir(cacheDir)).toEqual([])
  })

  it('downloads again over a broken cached copy', async () => {
    server.files.set('/tiny.gguf', SMALL_GGUF)
    const source = `${server.baseUrl}/tiny.gguf`
    const filePath = await resolveModelSource(source, options())
    await writeFile(filePath, SMALL_GGUF.subarray(0, SMALL_GGUF.length - 8))

    server.requests.length = 0
    expect(await resolveModelSource(source, options())).toBe(filePath)
    expect(server.requests.length).toBeGreaterThan(0)
    expect(logLines.some((line) => line.msg === 'model: cached copy is broken, downloading again')).toBe(true)
    expect(await readFile(filePath)).toEqual(SMALL_GGUF)
  })
})

describe('resolveModelSource: unreachable servers', () => {
  it.each([
    ['an http URL', (port: number) => [`http://127.0.0.1:${port}/m.gguf`, {}] as const],
    ['hf:<org>/<repo>/<file>', (port: number) => ['hf:org/repo/m.gguf', { hfEndpoint: `http://127.0.0.1:${port}` }] as const],
    ['hf:<org>/<repo>:<quant>', (port: number) => ['hf:org/repo:Q8_0', { hfEndpoint: `http://127.0.0.1:${port}` }] as const],
  ])('%s: retries with backoff, logging each cause, then fails with one line naming source and cause', async (_form, make) => {
    const port = await closedPort()
    const [source, overrides] = make(port)
    const error = await resolveError(source, { ...overrides, retryWindowMs: 2_500 })
    expect(error.message).toMatch(new RegExp(`^Cannot download ${source.replace(/[.:/]/g, '\\$&')}: connection refused by 127\\.0\\.0\\.1:${port} \\(gave up after \\d+ attempts in [\\d.]+ s\\)\\.$`))
    expect(error.message).not.toContain('\n')
    const retries = logLines.filter((line) => /^model: connection refused .*; retrying in \d+ s$/.test(line.msg))
    expect(retries.length).toBeGreaterThanOrEqual(2)
    expect(await readdir(cacheDir).catch(() => [])).toEqual([])
  })

  it('retries a 503 and then downloads', async () => {
    server.files.set('/busy.gguf', SMALL_GGUF)
    server.unavailableFor = 2
    const filePath = await resolveModelSource(`${server.baseUrl}/busy.gguf`, options({ retryWindowMs: 10_000 }))
    expect(await readFile(filePath)).toEqual(SMALL_GGUF)
    expect(logLines.filter((line) => /^model: HTTP 503 .*; retrying in/.test(line.msg))).toHaveLength(2)
  })

  it('gives up on a download that receives nothing for the retry window, keeping the partial file', async () => {
    const big = buildGguf((2 * DOWNLOAD_CHUNK_BYTES) / 4)
    server.files.set('/stalls.gguf', big)
    server.stallRangesFrom = DOWNLOAD_CHUNK_BYTES
    const error = await resolveError(`${server.baseUrl}/stalls.gguf`, { retryWindowMs: 1_500 })
    expect(error.message).toMatch(/: no data from the server for 2 s \(download\.retryWindowMs\); the partial file stays in .* and the next start resumes it\.$/)
    expect((await readdir(cacheDir)).some((name) => name.endsWith('.ipull'))).toBe(true)
  })
})

describe('resolveModelSource: local files', () => {
  it('returns the absolute path of a valid GGUF file', async () => {
    const filePath = path.join(tempDir, 'ok.gguf')
    await writeFile(filePath, SMALL_GGUF)
    expect(await resolveModelSource(path.relative(process.cwd(), filePath), options())).toBe(filePath)
  })

  it('rejects a file that is not GGUF', async () => {
    const filePath = path.join(tempDir, 'notes.gguf')
    await writeFile(filePath, 'just some text, not a model')
    const error = await resolveError(filePath)
    expect(error.message).toBe(`Model file ${filePath} is not a GGUF file (bad magic: it starts with "just")`)
  })

  it.each([
    ['in the tensor data', SMALL_GGUF.length - 10],
    ['in the header', 60],
  ])('rejects a GGUF file truncated %s', async (_where, keptBytes) => {
    const filePath = path.join(tempDir, 'cut.gguf')
    await writeFile(filePath, SMALL_GGUF.subarray(0, keptBytes))
    const error = await resolveError(filePath)
    expect(error.message).toMatch(new RegExp(`is truncated: ${keptBytes} bytes, expected at least \\d+`))
  })

  it('checks every part of a split model', async () => {
    const first = path.join(tempDir, 'split-00001-of-00002.gguf')
    const second = path.join(tempDir, 'split-00002-of-00002.gguf')
    await writeFile(first, SMALL_GGUF)
    await writeFile(second, SMALL_GGUF.subarray(0, SMALL_GGUF.length - 10))
    expect((await resolveError(first)).message).toMatch(`Model file ${second} is truncated`)

    await rm(second)
    expect((await resolveError(first)).message).toBe(
      `Model file ${first} is one part of a split model, but part ${second} is missing`,
    )

    await writeFile(second, SMALL_GGUF)
    expect(await resolveModelSource(first, options())).toBe(first)
  })

  it('rejects a missing path', async () => {
    const filePath = path.join(tempDir, 'nope.gguf')
    const error = await resolveError(filePath)
    expect(error.message).toBe(`Model file not found: ${filePath}`)
  })
})

/** A port on which nothing listens. */
async function closedPort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as AddressInfo
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return port
}


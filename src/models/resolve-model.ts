import { createHash } from 'node:crypto'
import { stat } from 'node:fs/promises'
import path from 'node:path'
import { resolveModelFile } from 'node-llama-cpp'
import type { Logger } from 'pino'
import { StartupError } from '../errors.js'
import { downloadModel, type DownloadSettings } from './download.js'
import type { DownloadStatus } from './download-status.js'
import { findCachedName, mayBeCacheName } from './cache-names.js'
import { checkGgufFile } from './gguf-check.js'
import { probeDownload } from './probe.js'
import { describeModelSource, type ModelSourceDescription } from './source-uri.js'

/**
 * Turns `--model <source>` into the absolute path of a GGUF file that llama.cpp can load.
 *
 * - A local path is only validated.
 * - An `hf:` URI or an http(s) URL is looked up in the cache directory first (no network), and otherwise
 *   downloaded there with node-llama-cpp's downloader (ipull). ipull keeps an unfinished download as
 *   `<file>.ipull` with its progress appended, so the next start continues from the last completed 5 MiB
 *   chunk instead of starting over; within one run it retries dropped connections by itself.
 * - Every file is checked before it is used: GGUF magic, a header that parses, and a size that reaches the
 *   end of the last tensor's data. A download that fails the check is deleted, so it is never reused.
 */

export interface ResolveModelOptions {
  /** Where hf: and URL models are downloaded and reused; relative paths resolve against the working directory. */
  cacheDir: string
  /** Hugging Face base URL, for mirrors and tests. Default https://huggingface.co. */
  hfEndpoint?: string
  /**
   * Token for gated or private Hugging Face repositories. The library sends it only to the Hugging Face
   * endpoint, and only after an anonymous request is refused. Without it the library reads $HF_TOKEN or
   * the token file of huggingface-cli.
   */
  hfToken?: string
  log: Pick<Logger, 'info' | 'warn'>
  /** 'bar': the library's progress bar on stdout; 'log': periodic info lines. Default: bar when stdout is a TTY. */
  progress?: 'bar' | 'log' | 'none'
  /** Aborting keeps the partial download, so the next start resumes it. */
  signal?: AbortSignal
  /** Extra headers for every download request (sent to any host, unlike hfToken). */
  headers?: Record<string, string>
  /**
   * How long an unreachable server is retried (with backoff) before the download fails, and how long a
   * download may receive nothing. Default 30 s.
   */
  retryWindowMs?: number
  /** Told where the download is, for the 503s and /health while it runs. */
  onStatus?: (status: DownloadStatus) => void
}

type RemoteSource = Exclude<ModelSourceDescription, { kind: 'path' }>

const DEFAULT_HF_ENDPOINT = 'https://huggingface.co'
const DEFAULT_RETRY_WINDOW_MS = 30_000

/** Returns the absolute path of a validated GGUF file, downloading it into the cache first when needed. */
export async function resolveModelSource(source: string, options: ResolveModelOptions): Promise<string> {
  const described = describeModelSource(source)
  if (described.kind === 'path') return await resolveLocalModel(source, described.path, options.cacheDir)
  return await resolveRemoteModel(described, options)
}

/**
 * The cached file of a source, without any request: a name's file, or the download of an hf: URI or URL.
 * Undefined when nothing is cached (local paths outside the cache are not "cached").
 */
export async function findCachedSource(source: string, options: ResolveModelOptions): Promise<string | undefined> {
  const described = describeModelSource(source)
  if (described.kind === 'path') return await findCachedName(source, options.cacheDir)
  return await findCachedModel(downloadSettings(described, options))
}

/** A path that exists is the file; otherwise a bare name is looked up in the cache (`gguf-serve models`). */
async function resolveLocalModel(source: string, filePath: string, cacheDir: string): Promise<string> {
  const exists = await stat(filePath).then(() => true, () => false)
  if (exists || !mayBeCacheName(source)) {
    await checkGgufFile(filePath)
    return filePath
  }
  const cached = await findCachedName(source.trim(), cacheDir)
  if (cached === undefined) {
    throw new StartupError(
      `Model file not found: ${filePath}, and the cache ${path.resolve(cacheDir)} has no model named "${source.trim()}" ` +
        '("gguf-serve models" lists the cached ones).',
    )
  }
  await checkGgufFile(cached)
  return cached
}

function downloadSettings(described: RemoteSource, options: ResolveModelOptions): DownloadSettings {
  const uri = described.kind === 'url' ? described.url : described.uri
  return {
    uri,
    cacheDir: path.resolve(options.cacheDir),
    fileName: described.kind === 'url' ? urlCacheFileName(described.url) : undefined,
    endpoints: { huggingFace: options.hfEndpoint ?? DEFAULT_HF_ENDPOINT },
    headers: options.headers,
    tokens: options.hfToken === undefined ? undefined : { huggingFace: options.hfToken },
    retryWindowMs: options.retryWindowMs ?? DEFAULT_RETRY_WINDOW_MS,
  }
}

async function resolveRemoteModel(described: RemoteSource, options: ResolveModelOptions): Promise<string> {
  const settings = downloadSettings(described, options)
  const { uri } = settings
  const cached = await findCachedModel(settings)
  if (cached !== undefined) {
    try {
      await checkGgufFile(cached)
      options.log.info({ source: uri, path: cached }, 'model: using cached copy')
      return cached
    } catch (error) {
      if (!(error instanceof StartupError)) throw error
      options.log.warn({ source: uri, path: cached, problem: error.message }, 'model: cached copy is broken, downloading again')
    }
  }
  try {
    options.onStatus?.({ phase: 'connecting', downloadedBytes: 0, totalBytes: 0, secondsLeft: null })
    await probeDownload(probeUrl(described, settings), {
      source: uri,
      headers: probeHeaders(described, settings),
      retryWindowMs: settings.retryWindowMs,
      log: options.log,
      signal: options.signal,
    })
  } catch (error) {
    if (options.signal?.aborted) throw new StartupError(`Download of ${uri} was interrupted`, { cause: error })
    throw error
  }
  return await downloadModel(settings, cached !== undefined, options)
}

/** The first request the downloader will make: the file itself, or for a quant tag the manifest that names it. */
function probeUrl(described: RemoteSource, settings: DownloadSettings): string {
  if (described.kind === 'url') return described.url
  const endpoint = settings.endpoints.huggingFace.replace(/\/+$/, '')
  if (described.file === undefined) return `${endpoint}/v2/${described.repo}/manifests/${encodeURIComponent(described.tag ?? 'latest')}`
  const file = described.file.split('/').map(encodeURIComponent).join('/')
  return `${endpoint}/${described.repo}/resolve/${encodeURIComponent(described.branch ?? 'main')}/${file}?download=true`
}

function probeHeaders(described: RemoteSource, settings: DownloadSettings): Record<string, string> {
  if (described.kind === 'url') return settings.headers ?? {}
  // Hugging Face names the GGUF file in a manifest only for llama.cpp's user agent, as the downloader sends it.
  const token = settings.tokens?.huggingFace
  return { ...settings.headers, 'user-agent': 'llama-cpp', ...(token ? { authorization: `Bearer ${token}` } : {}) }
}

/** The cached file for this source, found by name only: no request is made. */
async function findCachedModel(settings: DownloadSettings): Promise<string | undefined> {
  try {
    return await resolveModelFile(settings.uri, {
      directory: settings.cacheDir,
      download: false,
      fileName: settings.fileName,
      endpoints: settings.endpoints,
      cli: false,
    })
  } catch {
    // With download disabled the only expected failure is "not in the cache"; anything else (a malformed
    // URI) resurfaces with a clearer message from the downloader.
    return undefined
  }
}

/**
 * `url_<host>_<hash>_<name>.gguf`. Fixed by the URL alone so the next start finds the file without asking
 * the server; the hash keeps two URLs that end in the same file name apart.
 */
function urlCacheFileName(url: string): string {
  const parsed = new URL(url)
  const lastSegment = parsed.pathname.split('/').pop() ?? ''
  let name: string
  try {
    name = decodeURIComponent(lastSegment)
  } catch {
    name = lastSegment
  }
  // Binary-split parts (model.gguf.part1of3) are joined by the library into one file.
  name = name.replace(/\.part\d+of\d+$/i, '') || 'model.gguf'
  if (!name.toLowerCase().endsWith('.gguf')) name += '.gguf'
  const hash = createHash('sha256').update(url).digest('hex').slice(0, 8)
  return `url_${parsed.host}_${hash}_${name}`.replace(/[^\w.-]+/g, '_')
}


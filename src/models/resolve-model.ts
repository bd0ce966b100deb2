import { createHash } from 'node:crypto'
import path from 'node:path'
import { resolveModelFile } from 'node-llama-cpp'
import type { Logger } from 'pino'
import { StartupError } from '../errors.js'
import { downloadModel, type DownloadSettings } from './download.js'
import { checkGgufFile } from './gguf-check.js'
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
}

type RemoteSource = Exclude<ModelSourceDescription, { kind: 'path' }>

const DEFAULT_HF_ENDPOINT = 'https://huggingface.co'

/** Returns the absolute path of a validated GGUF file, downloading it into the cache first when needed. */
export async function resolveModelSource(source: string, options: ResolveModelOptions): Promise<string> {
  const described = describeModelSource(source)
  if (described.kind === 'path') {
    await checkGgufFile(described.path)
    return described.path
  }
  return await resolveRemoteModel(described, options)
}

async function resolveRemoteModel(described: RemoteSource, options: ResolveModelOptions): Promise<string> {
  const uri = described.kind === 'url' ? described.url : described.uri
  const settings: DownloadSettings = {
    uri,
    cacheDir: path.resolve(options.cacheDir),
    fileName: described.kind === 'url' ? urlCacheFileName(described.url) : undefined,
    endpoints: { huggingFace: options.hfEndpoint ?? DEFAULT_HF_ENDPOINT },
    headers: options.headers,
    tokens: options.hfToken === undefined ? undefined : { huggingFace: options.hfToken },
  }

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
  return await downloadModel(settings, cached !== undefined, options)
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


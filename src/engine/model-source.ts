import { createHash } from 'node:crypto'
import { open, rm, stat, truncate } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  createModelDownloader,
  GgmlType,
  readGgufFileInfo,
  resolveModelFile,
  type GgufFileInfo,
  type GgufTensorInfo,
  type ModelDownloader,
} from 'node-llama-cpp'
import type { Logger } from 'pino'
import { StartupError } from '../errors.js'
import { formatBytes } from '../format-bytes.js'

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

export type ModelSourceDescription =
  | { kind: 'path'; path: string }
  | { kind: 'url'; url: string }
  /** `uri` is normalized to the `hf:` prefix; `tag` is a quantization tag such as Q4_K_M. */
  | { kind: 'hf'; uri: string; repo: string; file?: string; branch?: string; tag?: string }

type RemoteSource = Exclude<ModelSourceDescription, { kind: 'path' }>

const DEFAULT_HF_ENDPOINT = 'https://huggingface.co'
// The prefixes node-llama-cpp's URI parser accepts (the hf.co/ shorthand is left out: it reads like a path).
const HF_PREFIXES = ['hf://', 'huggingface://', 'hf:', 'huggingface:']

/** Classifies a model source without touching the file system or the network. */
export function describeModelSource(source: string): ModelSourceDescription {
  const trimmed = source.trim()
  if (trimmed === '') throw new StartupError('The model source is empty: pass a path, an hf: URI or an http(s) URL.')

  const hfPrefix = HF_PREFIXES.find((prefix) => trimmed.startsWith(prefix))
  if (hfPrefix !== undefined) return describeHfUri(source, trimmed.slice(hfPrefix.length))

  if (/^https?:\/\//i.test(trimmed)) {
    try {
      return { kind: 'url', url: new URL(trimmed).href }
    } catch (error) {
      throw new StartupError(`Invalid model URL: ${source}`, { cause: error })
    }
  }
  if (trimmed.startsWith('file:')) return { kind: 'path', path: fileURLToPath(trimmed) }
  return { kind: 'path', path: path.resolve(trimmed) }
}

// Mirrors the two forms node-llama-cpp resolves: hf:<org>/<repo>[:<tag>] and hf:<org>/<repo>/<file>[#<branch>].
function describeHfUri(source: string, body: string): ModelSourceDescription {
  const [org = '', repoPart = '', ...fileParts] = body.split('/')
  const rest = fileParts.join('/')
  const invalid = () =>
    new StartupError(
      `Invalid Hugging Face model URI "${source}": expected hf:<org>/<repo>:<quant> or hf:<org>/<repo>/<file>.gguf[#<branch>].`,
    )

  if (rest === '' || repoPart.includes(':')) {
    const [repo = '', ...tagParts] = repoPart.split(':')
    const tag = tagParts.join(':').trim()
    if (org === '' || repo === '') throw invalid()
    return { kind: 'hf', uri: `hf:${org}/${repo}${tag ? `:${tag}` : ''}`, repo: `${org}/${repo}`, ...(tag ? { tag } : {}) }
  }

  const hashAt = rest.indexOf('#')
  const file = hashAt < 0 ? rest : rest.slice(0, hashAt)
  const branch = hashAt < 0 ? '' : rest.slice(hashAt + 1)
  if (org === '' || repoPart === '' || file === '') throw invalid()
  return {
    kind: 'hf',
    uri: `hf:${org}/${repoPart}/${file}${branch ? `#${branch}` : ''}`,
    repo: `${org}/${repoPart}`,
    file,
    ...(branch ? { branch } : {}),
  }
}

/** Returns the absolute path of a validated GGUF file, downloading it into the cache first when needed. */
export async function resolveModelSource(source: string, options: ResolveModelOptions): Promise<string> {
  const described = describeModelSource(source)
  if (described.kind === 'path') {
    await checkGgufFile(described.path)
    return described.path
  }
  return await resolveRemoteModel(described, options)
}

interface DownloadSettings {
  uri: string
  cacheDir: string
  /** Only for URL sources: hf: URIs get the library's own names, which it can find again offline. */
  fileName: string | undefined
  endpoints: { huggingFace: string }
  headers: Record<string, string> | undefined
  tokens: { huggingFace: string } | undefined
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

async function downloadModel(
  settings: DownloadSettings,
  replaceExisting: boolean,
  options: ResolveModelOptions,
): Promise<string> {
  const { uri, cacheDir } = settings
  const { signal } = options
  const mode = options.progress ?? (process.stdout.isTTY ? 'bar' : 'log')
  // ipull draws its bar on stdout: anywhere else the bar's escape codes would end up in the logs.
  const progressLog = mode === 'log' ? new DownloadProgressLog(options.log, uri) : undefined
  const startedAt = Date.now()
  let downloader: ModelDownloader | undefined
  try {
    downloader = await untilAborted(
      createModelDownloader({
        modelUri: uri,
        dirPath: cacheDir,
        fileName: settings.fileName,
        headers: settings.headers,
        tokens: settings.tokens,
        endpoints: settings.endpoints,
        showCliProgress: mode === 'bar',
        onProgress: progressLog?.update,
        // A broken cached copy of the right size would otherwise be "skipped" as already downloaded.
        skipExisting: !replaceExisting,
        // Keep the partial file on abort: it is what the next start resumes from.
        deleteTempFileOnCancel: false,
      }),
      signal,
      (late) => void late.cancel({ deleteTempFile: false }),
    )
    const resumedBytes = downloader.downloadedSize
    const totalBytes = downloader.totalSize
    const size = totalBytes > 0 ? formatBytes(totalBytes) : 'unknown size'
    options.log.info(
      { source: uri, path: downloader.entrypointFilePath, totalBytes, resumedBytes },
      resumedBytes > 0
        ? `model: resuming download at ${formatBytes(resumedBytes)} of ${size}`
        : `model: downloading (${size})`,
    )
    const filePath = await downloader.download({ signal })
    // The library resolves rather than rejects when the abort lands while no request is in flight.
    signal?.throwIfAborted()
    await Promise.all(downloader.filesInfo.map((file) => trimToSize(file.filePath, file.totalSize)))
    options.log.info(
      { source: uri, path: filePath, bytes: downloader.totalSize, seconds: (Date.now() - startedAt) / 1000 },
      'model: download complete',
    )
  } catch (error) {
    if (signal?.aborted) {
      const kept =
        (downloader?.downloadedSize ?? 0) > 0 ? `; the partial file stays in ${cacheDir} and the next start resumes it` : ''
      throw new StartupError(`Download of ${uri} was interrupted${kept}`, { cause: error })
    }
    throw new StartupError(describeDownloadFailure(uri, error), { cause: error })
  } finally {
    progressLog?.stop()
  }

  try {
    await checkGgufFile(downloader.entrypointFilePath)
  } catch (error) {
    await Promise.all(downloader.filesInfo.map((file) => rm(file.filePath, { force: true })))
    if (!(error instanceof StartupError)) throw error
    throw new StartupError(`${error.message} (downloaded from ${uri}; deleted, so the next start downloads it again)`, {
      cause: error,
    })
  }
  return downloader.entrypointFilePath
}

/**
 * ipull keeps its resume record after the file's last byte and cuts it off when the download finishes, but a
 * record save still in flight at that moment lands after the cut. llama.cpp would ignore the extra bytes;
 * the cached copy should still be exactly what the server sent.
 */
async function trimToSize(filePath: string, expectedBytes: number): Promise<void> {
  if (expectedBytes > 0 && (await stat(filePath)).size > expectedBytes) await truncate(filePath, expectedBytes)
}

/**
 * Settles with `work`, or rejects as soon as `signal` aborts. The downloader's setup (resolving the URI and
 * asking the server for the size) takes no signal, and retries network errors for minutes.
 */
async function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined, discard: (late: T) => void): Promise<T> {
  if (signal === undefined) return await work
  signal.throwIfAborted()
  return await new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason)
      work.then(discard, () => {})
    }
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}

function describeDownloadFailure(uri: string, error: unknown): string {
  // ipull's StatusCodeError; matched by shape because ipull is not a direct dependency.
  const http = error as { statusCode?: unknown; statusText?: unknown; url?: unknown }
  if (typeof http.statusCode === 'number' && typeof http.url === 'string') {
    const status = `${http.statusCode}${typeof http.statusText === 'string' && http.statusText ? ` ${http.statusText}` : ''}`
    const hint =
      http.statusCode === 401 || http.statusCode === 403
        ? ' (the server wants credentials; for a gated or private Hugging Face repository set HF_TOKEN or hfToken)'
        : ''
    return `Model download failed: HTTP ${status} from ${http.url}${hint}`
  }
  const message = error instanceof Error ? error.message : String(error)
  const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : ''
  return `Model download failed for ${uri}: ${message}${cause}`
}

/** Info lines for a non-TTY: at each new 10 %, at most every 2 s, and every 30 s while nothing else is said. */
class DownloadProgressLog {
  private static readonly minIntervalMs = 2_000
  private static readonly heartbeatMs = 30_000
  private lastLineAt = Date.now()
  private lastDecile = 0
  private downloaded = 0
  private total = 0
  private bytesPerSecond = 0
  private readonly timer: NodeJS.Timeout

  constructor(
    private readonly log: Pick<Logger, 'info'>,
    private readonly source: string,
  ) {
    // The heartbeat also covers the setup phase and stalls, when the library reports nothing.
    this.timer = setInterval(() => {
      if (Date.now() - this.lastLineAt >= DownloadProgressLog.heartbeatMs) this.write()
    }, DownloadProgressLog.heartbeatMs / 6)
    this.timer.unref()
  }

  readonly update = (status: { totalSize: number; downloadedSize: number; averageSpeed: number }): void => {
    this.downloaded = status.downloadedSize
    this.total = status.totalSize
    this.bytesPerSecond = status.averageSpeed
    const decile = this.total > 0 ? Math.floor((this.downloaded * 10) / this.total) : 0
    if (decile > this.lastDecile && Date.now() - this.lastLineAt >= DownloadProgressLog.minIntervalMs) this.write()
  }

  stop(): void {
    clearInterval(this.timer)
  }

  private write(): void {
    this.lastLineAt = Date.now()
    if (this.downloaded === 0) {
      // ipull retries network errors (refused, DNS) quietly for about 12 minutes before it gives up.
      this.log.info({ source: this.source }, 'model: no data from the server yet; retrying until it answers')
      return
    }
    const percent = this.total > 0 ? Math.floor((this.downloaded * 100) / this.total) : null
    if (percent !== null) this.lastDecile = Math.floor(percent / 10)
    this.log.info(
      {
        source: this.source,
        downloadedBytes: this.downloaded,
        totalBytes: this.total,
        percent,
        bytesPerSecond: Math.round(this.bytesPerSecond),
      },
      `model: downloaded ${percent === null ? '' : `${percent}% `}(${formatBytes(this.downloaded)} of ` +
        `${this.total > 0 ? formatBytes(this.total) : 'unknown size'}, ${formatBytes(this.bytesPerSecond)}/s)`,
    )
  }
}


// ---- validation ----

/** [bytes per block, elements per block] for each ggml tensor type, as in ggml's type traits. */
const GGML_TYPE_LAYOUT: Partial<Record<GgmlType, readonly [number, number]>> = {
  [GgmlType.F32]: [4, 1],
  [GgmlType.F16]: [2, 1],
  [GgmlType.BF16]: [2, 1],
  [GgmlType.F64]: [8, 1],
  [GgmlType.I8]: [1, 1],
  [GgmlType.I16]: [2, 1],
  [GgmlType.I32]: [4, 1],
  [GgmlType.I64]: [8, 1],
  [GgmlType.Q4_0]: [18, 32],
  [GgmlType.Q4_1]: [20, 32],
  [GgmlType.Q5_0]: [22, 32],
  [GgmlType.Q5_1]: [24, 32],
  [GgmlType.Q8_0]: [34, 32],
  [GgmlType.Q8_1]: [36, 32],
  [GgmlType.IQ4_NL]: [18, 32],
  [GgmlType.MXFP4]: [17, 32],
  [GgmlType.Q2_K]: [84, 256],
  [GgmlType.Q3_K]: [110, 256],
  [GgmlType.Q4_K]: [144, 256],
  [GgmlType.Q5_K]: [176, 256],
  [GgmlType.Q6_K]: [210, 256],
  [GgmlType.Q8_K]: [292, 256],
  [GgmlType.IQ2_XXS]: [66, 256],
  [GgmlType.IQ2_XS]: [74, 256],
  [GgmlType.IQ2_S]: [82, 256],
  [GgmlType.IQ3_XXS]: [98, 256],
  [GgmlType.IQ3_S]: [110, 256],
  [GgmlType.IQ1_S]: [50, 256],
  [GgmlType.IQ1_M]: [56, 256],
  [GgmlType.IQ4_XS]: [136, 256],
  [GgmlType.TQ1_0]: [54, 256],
  [GgmlType.TQ2_0]: [66, 256],
}

const GGUF_MAGIC = 'GGUF'
// Magic, version, tensor count and metadata count.
const GGUF_HEADER_BYTES = 24
// The smallest metadata entry (empty key, one-byte value) and tensor entry (empty name, no dimensions).
const MIN_KV_BYTES = 8 + 4 + 1
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8

/**
 * Throws a StartupError naming the file and what is wrong with it. The library's parser reads past the end
 * of a file as zeros rather than failing, so a truncated file parses: sizes are checked against the header.
 */
async function checkGgufFile(filePath: string): Promise<void> {
  await checkGgufHeader(filePath)
  let info: GgufFileInfo
  try {
    info = await readGgufFileInfo(filePath, { sourceType: 'filesystem', logWarnings: false })
  } catch (error) {
    const missing = error as { code?: unknown; path?: unknown }
    if (missing.code === 'ENOENT' && typeof missing.path === 'string') {
      throw new StartupError(`Model file ${filePath} is one part of a split model, but part ${missing.path} is missing`, {
        cause: error,
      })
    }
    throw new StartupError(`Model file ${filePath} is not a valid GGUF file: ${(error as Error).message}`, {
      cause: error,
    })
  }

  // Split models: the parts come back in order, and each tensor names the part (from 1) that holds its data.
  const partPaths = info.sourceData.map((source) => (source.type === 'path' ? source.path : filePath))
  const minimumSizes = partPaths.map(() => 0)
  minimumSizes[0] = info.metadataSize + (info.tensorInfoSize ?? 0)
  for (const tensor of info.fullTensorInfo ?? []) {
    const index = tensor.filePart - 1
    const end = Number(tensor.fileOffset) + (tensorDataBytes(tensor) ?? 0)
    minimumSizes[index] = Math.max(minimumSizes[index] ?? 0, end)
  }
  for (const [index, partPath] of partPaths.entries()) {
    const partSize = (await stat(partPath)).size
    const minimum = minimumSizes[index] ?? 0
    if (partSize < minimum) {
      throw new StartupError(`Model file ${partPath} is truncated: ${partSize} bytes, expected at least ${minimum}`)
    }
  }
}

/** Checks existence, magic, version, and that the entry counts the header declares can fit in the file. */
async function checkGgufHeader(filePath: string): Promise<void> {
  let handle
  try {
    handle = await open(filePath, 'r')
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') {
      throw new StartupError(`Model file not found: ${filePath}`, { cause: error })
    }
    throw new StartupError(`Cannot open model file ${filePath}: ${(error as Error).message}`, { cause: error })
  }
  try {
    const stats = await handle.stat()
    const size = stats.size
    if (!stats.isFile()) throw new StartupError(`Model path is not a file: ${filePath}`)
    const header = Buffer.alloc(GGUF_HEADER_BYTES)
    const { bytesRead } = await handle.read(header, 0, GGUF_HEADER_BYTES, 0)
    const magic = header.subarray(0, Math.min(bytesRead, 4)).toString('latin1')
    if (magic !== GGUF_MAGIC) {
      const found = bytesRead === 0 ? 'the file is empty' : `it starts with ${JSON.stringify(magic)}`
      throw new StartupError(`Model file ${filePath} is not a GGUF file (bad magic: ${found})`)
    }
    if (bytesRead < GGUF_HEADER_BYTES) {
      throw new StartupError(`Model file ${filePath} is truncated: ${size} bytes, expected at least ${GGUF_HEADER_BYTES}`)
    }
    const version = header.readUInt32LE(4)
    if (version !== 2 && version !== 3) {
      throw new StartupError(`Model file ${filePath} has GGUF version ${version}; only versions 2 and 3 are supported`)
    }
    // Rejects garbage counts before the parser would loop over them.
    const minimum =
      BigInt(GGUF_HEADER_BYTES) +
      header.readBigUInt64LE(8) * BigInt(MIN_TENSOR_INFO_BYTES) +
      header.readBigUInt64LE(16) * BigInt(MIN_KV_BYTES)
    if (BigInt(size) < minimum) {
      throw new StartupError(`Model file ${filePath} is truncated: ${size} bytes, expected at least ${minimum}`)
    }
  } finally {
    await handle.close()
  }
}

/** Bytes of a tensor's data; undefined for a type this table does not know (then only its offset is checked). */
function tensorDataBytes(tensor: GgufTensorInfo): number | undefined {
  const layout = GGML_TYPE_LAYOUT[tensor.ggmlType]
  if (layout === undefined) return undefined
  const [blockBytes, blockElements] = layout
  const elements = tensor.dimensions.reduce<number>((product, dimension) => product * Number(dimension), 1)
  return Math.floor(elements / blockElements) * blockBytes
}

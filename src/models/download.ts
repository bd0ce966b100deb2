import { existsSync } from 'node:fs'
import { rm, stat, truncate } from 'node:fs/promises'
import { createModelDownloader, type ModelDownloader } from 'node-llama-cpp'
import { StartupError } from '../errors.js'
import { formatBytes } from '../format-bytes.js'
import { DownloadProgressLog } from './download-progress-log.js'
import { checkGgufFile } from './gguf-check.js'
import { describeHttpStatus } from './probe.js'
import type { ResolveModelOptions } from './resolve-model.js'

export interface DownloadSettings {
  uri: string
  cacheDir: string
  /** Only for URL sources: hf: URIs get the library's own names, which it can find again offline. */
  fileName: string | undefined
  endpoints: { huggingFace: string }
  headers: Record<string, string> | undefined
  tokens: { huggingFace: string } | undefined
  /** A download that receives nothing for this long is given up. */
  retryWindowMs: number
}

export async function downloadModel(
  settings: DownloadSettings,
  replaceExisting: boolean,
  options: ResolveModelOptions,
): Promise<string> {
  const { uri, cacheDir } = settings
  const mode = options.progress ?? (process.stdout.isTTY ? 'bar' : 'log')
  // ipull draws its bar on stdout: anywhere else the bar's escape codes would end up in the logs.
  const progressLog = mode === 'log' ? new DownloadProgressLog(options.log, uri) : undefined
  // ipull retries a dead connection for minutes without a word: a download that receives nothing for the
  // retry window is given up (the partial file stays, for the next start to resume).
  const stall = new StallWatchdog(settings.retryWindowMs)
  const signal = options.signal ? AbortSignal.any([options.signal, stall.signal]) : stall.signal
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
        onProgress: (status) => {
          stall.progress(status.downloadedSize)
          progressLog?.update(status)
          options.onStatus?.({
            phase: 'downloading',
            downloadedBytes: status.downloadedSize,
            totalBytes: status.totalSize,
            secondsLeft: status.averageSpeed > 0 ? (status.totalSize - status.downloadedSize) / status.averageSpeed : null,
          })
        },
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
    options.onStatus?.({ phase: 'downloading', downloadedBytes: resumedBytes, totalBytes, secondsLeft: null })
    options.log.info(
      { source: uri, path: downloader.entrypointFilePath, totalBytes, resumedBytes },
      resumedBytes > 0
        ? `model: resuming download at ${formatBytes(resumedBytes)} of ${size}`
        : `model: downloading (${size})`,
    )
    const filePath = await downloader.download({ signal })
    // The library resolves rather than rejects when the abort lands while no request is in flight.
    signal.throwIfAborted()
    await Promise.all(downloader.filesInfo.map((file) => trimToSize(file.filePath, file.totalSize)))
    options.log.info(
      { source: uri, path: filePath, bytes: downloader.totalSize, seconds: (Date.now() - startedAt) / 1000 },
      'model: download complete',
    )
  } catch (error) {
    // ipull writes the partial file (`<file>.ipull`) a little after the first bytes arrive.
    const partial = downloader?.filesInfo.some((file) => existsSync(`${file.filePath}.ipull`)) ?? false
    const kept = partial ? `; the partial file stays in ${cacheDir} and the next start resumes it` : ''
    if (options.signal?.aborted) throw new StartupError(`Download of ${uri} was interrupted${kept}`, { cause: error })
    if (stall.signal.aborted) {
      throw new StartupError(`Cannot download ${uri}: ${stall.describe()}${kept}.`, { cause: error })
    }
    throw new StartupError(describeDownloadFailure(uri, error), { cause: error })
  } finally {
    stall.stop()
    progressLog?.stop()
  }

  options.onStatus?.({ phase: 'checking', downloadedBytes: downloader.totalSize, totalBytes: downloader.totalSize, secondsLeft: 0 })
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

/** Aborts when the byte count has not moved for `windowMs`. */
class StallWatchdog {
  private readonly controller = new AbortController()
  private lastBytes = -1
  private lastChangeAt = Date.now()
  private readonly timer: NodeJS.Timeout

  constructor(private readonly windowMs: number) {
    this.timer = setInterval(() => {
      if (Date.now() - this.lastChangeAt >= this.windowMs) this.controller.abort()
    }, Math.max(100, Math.min(1_000, windowMs / 4)))
    this.timer.unref()
  }

  get signal(): AbortSignal {
    return this.controller.signal
  }

  progress(bytes: number): void {
    if (bytes === this.lastBytes) return
    this.lastBytes = bytes
    this.lastChangeAt = Date.now()
  }

  describe(): string {
    return `no data from the server for ${Math.round(this.windowMs / 1000)} s (download.retryWindowMs)`
  }

  stop(): void {
    clearInterval(this.timer)
  }
}

function describeDownloadFailure(uri: string, error: unknown): string {
  // ipull's StatusCodeError; matched by shape because ipull is not a direct dependency.
  const http = error as { statusCode?: unknown; statusText?: unknown; url?: unknown }
  if (typeof http.statusCode === 'number' && typeof http.url === 'string') {
    return `Model download failed: ${describeHttpStatus(http.statusCode, typeof http.statusText === 'string' ? http.statusText : '', http.url)}`
  }
  const message = error instanceof Error ? error.message : String(error)
  const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : ''
  return `Model download failed for ${uri}: ${message}${cause}`
}

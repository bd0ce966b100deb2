/**
 * Where a model file is on its way to the cache, for the 503s sent meanwhile, /health and /v1/models.
 * `connecting`: the server is being reached (with retries); `downloading`: bytes arrive; `checking`: the
 * finished file is verified.
 */
export interface DownloadStatus {
  phase: 'connecting' | 'downloading' | 'checking'
  downloadedBytes: number
  /** 0 while unknown. */
  totalBytes: number
  /** null while unknown (no data yet). */
  secondsLeft: number | null
}

/** "downloading 41 %, 12 s left", as the 503 message and the logs say it. */
export function describeDownloadStatus(status: DownloadStatus): string {
  if (status.phase === 'connecting') return 'connecting to the download server'
  if (status.phase === 'checking') return 'checking the downloaded file'
  if (status.totalBytes <= 0) return 'downloading'
  const percent = Math.floor((status.downloadedBytes * 100) / status.totalBytes)
  const left = status.secondsLeft === null ? '' : `, ${Math.max(1, Math.ceil(status.secondsLeft))} s left`
  return `downloading ${percent} %${left}`
}

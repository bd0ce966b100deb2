import type { Logger } from 'pino'
import { formatBytes } from '../format-bytes.js'

/** Info lines for a non-TTY: at each new 10 %, at most every 2 s, and every 30 s while nothing else is said. */
export class DownloadProgressLog {
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


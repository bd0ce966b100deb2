import { apiFetch, errorMessage } from './api-client.js'
import { MetricsHistory, type Percentiles } from './dashboard-figures.js'
import { byId, h } from './dom.js'
import { formatBytes, formatPercent, formatRate, formatSeconds } from './format.js'
import { parsePrometheus } from './prometheus.js'
import { drawSparkline } from './sparkline.js'

/** GET /ui/models (src/http/routes/ui-models.ts). */
interface UiModel {
  id: string
  state: string
  context_size: number
  slots_total: number
  slots_busy: number
  queue: number
  kv_cache_tokens: number
  gpu_layers: number | null
  threads: number | null
  file_size_bytes: number | null
  weights_memory: { ram: number; vram: number } | null
  context_memory: { ram: number; vram: number } | null
}

const POLL_MS = 1000
const WINDOW_MS = 60_000

/**
 * The live dashboard: polls /metrics and /ui/models once a second while it is shown, and keeps a
 * minute of scrapes for the rate chart and the recent percentiles.
 */
export class DashboardView {
  private readonly history = new MetricsHistory(WINDOW_MS)
  /** The polling loop allowed to go on: a loop whose token was replaced (stop, then start) ends. */
  private polling: symbol | null = null
  private timer = 0

  start(): void {
    if (this.polling) return
    const token = (this.polling = Symbol('poll'))
    const poll = async () => {
      await this.refresh()
      if (this.polling === token) this.timer = window.setTimeout(poll, POLL_MS)
    }
    void poll()
  }

  stop(): void {
    this.polling = null
    window.clearTimeout(this.timer)
  }

  private async refresh(): Promise<void> {
    // The cards need only /metrics; the model table comes from the API (key) and fails on its own.
    const [metrics, models] = await Promise.allSettled([this.scrape(), this.models()])
    if (metrics.status === 'fulfilled') this.renderFigures()
    if (models.status === 'fulfilled') this.renderModels(models.value)
    const problems = [metrics, models].flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []))
    byId('dash-updated').textContent =
      problems.length > 0 ? `Cannot update: ${problems.join('; ')}` : `Updated ${new Date().toLocaleTimeString()}`
  }

  private async scrape(): Promise<void> {
    const response = await apiFetch('/metrics', {}, 'metrics-token')
    if (!response.ok) throw new Error(`/metrics: ${await errorMessage(response)}`)
    this.history.add(Date.now(), parsePrometheus(await response.text()))
  }

  private async models(): Promise<UiModel[]> {
    const response = await apiFetch('/ui/models')
    if (!response.ok) throw new Error(`/ui/models: ${await errorMessage(response)}`)
    return ((await response.json()) as { data: UiModel[] }).data
  }

  private renderFigures(): void {
    const figures = this.history.figures()
    byId('dash-tps').textContent = formatRate(figures.tokensPerSecond)
    drawSparkline(byId<SVGSVGElement>('dash-chart'), figures.tokensPerSecondSeries)
    byId('dash-tps-peak').textContent = formatRate(Math.max(0, ...figures.tokensPerSecondSeries.map((p) => p.value)))
    byId('dash-slots').textContent = `${figures.slotsBusy} / ${figures.slotsTotal}`
    byId('dash-queue').textContent = String(figures.waiting)
    byId('dash-cache').textContent = formatPercent(figures.prefixCacheHitRatio)
    byId('dash-cache-detail').textContent = `${figures.promptTokensCached} cached / ${figures.promptTokensEvaluated} evaluated prompt tokens`
    byId('dash-generated').textContent = String(figures.generatedTokens)
    byId('dash-window').textContent = `${Math.round(figures.windowSeconds)} s`
    fillRows('dash-latency', [
      ['Time to first token', ...percentileCells(figures.ttft.window), ...percentileCells(figures.ttft.sinceStart)],
      ['Inter-token latency', ...percentileCells(figures.itl.window), ...percentileCells(figures.itl.sinceStart)],
    ])
    fillRows('dash-outcomes', [...figures.outcomes].sort().map(([outcome, count]) => [outcome, String(count)]))
    fillRows('dash-statuses', [...figures.httpStatuses].sort().map(([status, count]) => [status, String(count)]))
    byId('dash-cancellations').textContent = String(figures.cancellations)
    byId('dash-rejections').textContent = String(figures.queueRejections)
  }

  private renderModels(models: UiModel[]): void {
    fillRows(
      'dash-models',
      models.map((m) => [
        m.id,
        m.state,
        String(m.context_size),
        `${m.slots_busy} / ${m.slots_total}`,
        String(m.queue),
        String(m.kv_cache_tokens),
        m.gpu_layers === null ? '–' : String(m.gpu_layers),
        m.threads === null ? '–' : String(m.threads),
        formatBytes(m.file_size_bytes),
        memory(m.weights_memory),
        memory(m.context_memory),
      ]),
    )
  }
}

function percentileCells(p: Percentiles): string[] {
  return [formatSeconds(p.p50), formatSeconds(p.p90), formatSeconds(p.p99)]
}

function memory(usage: { ram: number; vram: number } | null): string {
  return usage ? `${formatBytes(usage.ram)} RAM, ${formatBytes(usage.vram)} VRAM` : '–'
}

/** Replaces a table body's rows; the first cell of each row is its header. */
function fillRows(tbodyId: string, rows: string[][]): void {
  byId(tbodyId).replaceChildren(
    ...rows.map(([head, ...cells]) => h('tr', {}, h('th', { scope: 'row' }, head ?? ''), ...cells.map((cell) => h('td', {}, cell)))),
  )
}

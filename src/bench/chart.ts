/**
 * The `--chart` SVG of a `gguf-serve bench` report: output tokens/s and TTFT p50 per level, one line per
 * target. Levels sit evenly on the x axis in the order they ran (they may mix concurrencies and rates).
 */
import type { BenchReport } from './report.js'
import type { LevelReport } from './runner.js'

const PANEL = { width: 440, height: 260, left: 64, right: 40, top: 36, bottom: 44 }
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b']

interface Panel {
  title: string
  value: (level: LevelReport) => number | null
}

const PANELS: Panel[] = [
  { title: 'output tokens/s (higher is better)', value: (l) => (l.completed > 0 ? l.outputTokensPerS : null) },
  { title: 'TTFT p50, ms (lower is better)', value: (l) => l.ttftMs?.p50 ?? null },
]

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

/** A round axis maximum (1, 2 or 5 × 10^k) at or above `max`. */
export function niceCeiling(max: number): number {
  if (!(max > 0)) return 1
  const power = 10 ** Math.floor(Math.log10(max))
  return [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= max)!
}

function panel(report: BenchReport, spec: Panel, offsetX: number): string[] {
  const { width, height, left, right, top, bottom } = PANEL
  const labels = report.targets[0]?.levels.map((l) => l.label) ?? []
  const plotW = width - left - right
  const plotH = height - top - bottom
  const values = report.targets.flatMap((t) => t.levels.map(spec.value)).filter((v): v is number => v !== null)
  const yMax = niceCeiling(Math.max(0, ...values))
  const x = (i: number) => offsetX + left + (labels.length === 1 ? plotW / 2 : (i * plotW) / (labels.length - 1))
  const y = (v: number) => top + plotH - (v / yMax) * plotH
  const out = [`<text x="${offsetX + left}" y="20" font-size="13" font-weight="bold">${escape(spec.title)}</text>`]
  for (let tick = 0; tick <= 4; tick++) {
    const v = (yMax * tick) / 4
    out.push(
      `<line x1="${offsetX + left}" x2="${offsetX + width - right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`,
      `<text x="${offsetX + left - 6}" y="${y(v) + 4}" font-size="11" text-anchor="end">${Number(v.toPrecision(3))}</text>`,
    )
  }
  labels.forEach((label, i) => out.push(`<text x="${x(i)}" y="${top + plotH + 18}" font-size="11" text-anchor="middle">${escape(label)}</text>`))
  report.targets.forEach((target, t) => {
    const color = COLORS[t % COLORS.length]
    const points = target.levels.map((l, i) => [i, spec.value(l)] as const).filter((p): p is readonly [number, number] => p[1] !== null)
    if (points.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map(([i, v]) => `${x(i)},${y(v)}`).join(' ')}"/>`)
    for (const [i, v] of points) out.push(`<circle cx="${x(i)}" cy="${y(v)}" r="3.5" fill="${color}"><title>${escape(`${target.name} ${labels[i]}: ${v.toFixed(1)}`)}</title></circle>`)
  })
  return out
}

export function chartSvg(report: BenchReport): string {
  const width = PANEL.width * PANELS.length
  const legendY = PANEL.height + 8
  const height = legendY + 16 * report.targets.length + 8
  const legend = report.targets.map((target, t) => {
    const y = legendY + 16 * t
    return `<rect x="${PANEL.left}" y="${y}" width="12" height="12" fill="${COLORS[t % COLORS.length]}"/><text x="${PANEL.left + 18}" y="${y + 10}" font-size="12">${escape(target.name)}</text>`
  })
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...PANELS.flatMap((spec, p) => panel(report, spec, p * PANEL.width)),
    ...legend,
    '</svg>',
    '',
  ].join('\n')
}

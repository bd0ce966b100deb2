/** Display formats of the page's figures. Pure (no DOM). */

export function formatSeconds(seconds: number | null): string {
  if (seconds === null) return '–'
  return seconds < 1 ? `${(seconds * 1000).toFixed(seconds < 0.01 ? 1 : 0)} ms` : `${seconds.toFixed(2)} s`
}

export function formatRate(perSecond: number | null): string {
  return perSecond === null ? '–' : `${perSecond.toFixed(perSecond < 10 ? 1 : 0)}`
}

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes == null) return '–'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`
}

export function formatPercent(ratio: number | null): string {
  return ratio === null ? '–' : `${(ratio * 100).toFixed(1)} %`
}

const SVG = 'http://www.w3.org/2000/svg'
const WIDTH = 300
const HEIGHT = 80

/**
 * Draws values over time as an area chart into an <svg> (viewBox 300×80): the time axis spans the points
 * (at most the window), the value axis 0 to the highest value. Drawn by hand: a charting library would
 * outweigh the rest of the page.
 */
export function drawSparkline(svg: SVGSVGElement, points: ReadonlyArray<{ at: number; value: number }>): void {
  svg.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`)
  svg.setAttribute('preserveAspectRatio', 'none')
  const first = points[0]
  const last = points.at(-1)
  if (!first || !last || first === last) {
    svg.replaceChildren()
    return
  }
  const max = Math.max(1, ...points.map((p) => p.value))
  const x = (at: number) => ((at - first.at) / (last.at - first.at)) * WIDTH
  const y = (value: number) => HEIGHT - (value / max) * (HEIGHT - 4)
  const line = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.at).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ')
  const area = `${line} L${WIDTH},${HEIGHT} L0,${HEIGHT} Z`
  svg.replaceChildren(path(area, 'area'), path(line, 'line'))
}

function path(d: string, className: string): SVGPathElement {
  const element = document.createElementNS(SVG, 'path')
  element.setAttribute('d', d)
  element.setAttribute('class', className)
  return element
}

/** A parsed Prometheus text exposition: `name{labels}` → value. Throws on a malformed sample line. */
export type Samples = Map<string, number>

// Values as Prometheus parses them (Go's ParseFloat: NaN and Inf in any case).
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?(?:[0-9.]+(?:[eE][-+]?[0-9]+)?|nan|[+-]?inf))$/i

export function parsePrometheus(text: string): Samples {
  const samples: Samples = new Map()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = SAMPLE.exec(line)
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`)
    samples.set(`${match[1]}${match[2] ?? ''}`, Number(match[3]))
  }
  return samples
}

export async function scrape(origin: string): Promise<Samples> {
  const res = await fetch(`${origin}/metrics`)
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`)
  return parsePrometheus(await res.text())
}

/** A sample's value, 0 when the series does not exist yet (counters appear on first increment). */
export function value(samples: Samples, name: string, labels: Record<string, string> = {}): number {
  for (const [key, v] of samples) {
    if (!key.startsWith(`${name}{`) && key !== name) continue
    if (Object.entries(labels).every(([k, l]) => key.includes(`${k}="${l}"`))) return v
  }
  return 0
}

import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parseAllDocuments } from 'yaml'
import { loadConfig } from '../src/config/load-config.js'

const DIR = fileURLToPath(new URL('../deploy/kubernetes/', import.meta.url))
const manifests = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((file) =>
    parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`)
      return { file, doc: doc.toJS() as any }
    }),
  )
const byKind = (kind: string) => manifests.find((m) => m.doc.kind === kind)?.doc

/** Metric names the server exports: literal names and the `gguf_serve_` prefixed gauge/histogram/counter helpers. */
function exportedMetricNames(): Set<string> {
  const source = readFileSync(fileURLToPath(new URL('../src/observability/metrics.ts', import.meta.url)), 'utf8')
  const literal = [...source.matchAll(/name: '(gguf_serve_\w+)'/g)].map((m) => m[1]!)
  const helpers = [...source.matchAll(/(?:gauge|histogram|counter)\('(\w+)'/g)].map((m) => `gguf_serve_${m[1]}`)
  return new Set([...literal, ...helpers])
}

describe('deploy/kubernetes manifests', () => {
  it('parse, and each has apiVersion, kind and metadata.name', () => {
    expect(manifests.length).toBeGreaterThanOrEqual(5)
    for (const { file, doc } of manifests) {
      expect(doc.apiVersion, file).toMatch(/^[\w.\-/]+$/)
      expect(doc.kind, file).toMatch(/^[A-Z]\w+$/)
      expect(doc.metadata?.name, file).toMatch(/^[a-z0-9-]+$/)
    }
    for (const kind of ['Deployment', 'Service', 'ConfigMap', 'PodDisruptionBudget', 'HorizontalPodAutoscaler']) {
      expect(byKind(kind), kind).toBeDefined()
    }
  })

  it("validate against the Kubernetes API's own schemas (kubernetes-models); the CRD (ServiceMonitor) is left out", async () => {
    const builtIn = manifests.filter(({ doc }) => !String(doc.apiVersion).includes('monitoring.coreos.com'))
    expect(builtIn.length).toBe(manifests.length - 1)
    for (const { file, doc } of builtIn) {
      // apps/v1 → kubernetes-models/apps/v1/Deployment; the core group's v1 → kubernetes-models/v1/Service.
      const { [doc.kind]: Model } = await import(`kubernetes-models/${doc.apiVersion}/${doc.kind}`)
      expect(() => new Model(doc).validate(), file).not.toThrow()
    }
    // The check is real: a container port that is not a number is refused.
    const { Deployment } = await import('kubernetes-models/apps/v1/Deployment')
    const broken = structuredClone(byKind('Deployment'))
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'http'
    expect(() => new Deployment(broken).validate()).toThrow()
  })

  const deployment = byKind('Deployment')
  const container = deployment.spec.template.spec.containers[0]
  const configMap = byKind('ConfigMap')

  it('configures the server by the ConfigMap, a config file the server accepts', () => {
    expect(container.args).toEqual(['start', '--config', '/etc/gguf-serve/config.yaml'])
    const mount = container.volumeMounts.find((m: any) => m.mountPath === '/etc/gguf-serve')
    const volume = deployment.spec.template.spec.volumes.find((v: any) => v.name === mount.name)
    expect(volume.configMap.name).toBe(configMap.metadata.name)
    const file = join(mkdtempSync(join(tmpdir(), 'gguf-serve-k8s-')), 'config.yaml')
    writeFileSync(file, configMap.data['config.yaml'])
    const { config } = loadConfig({ flags: { config: file }, env: {} })
    expect(config.server.host).toBe('0.0.0.0')
    expect(config.server.port).toBe(8080)
    expect(config.download.cacheDir).toBe('/models')
  })

  it('matches the server: port 8080, probes on /health, a grace period longer than shutdownGraceMs', () => {
    const port = container.ports.find((p: any) => p.name === 'http')
    expect(port.containerPort).toBe(8080)
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      expect(container[probe].httpGet, probe).toEqual({ path: '/health', port: 'http' })
    }
    expect(container.livenessProbe.initialDelaySeconds).toBeGreaterThan(container.readinessProbe.initialDelaySeconds ?? 0)
    expect(container.resources.limits['nvidia.com/gpu']).toBe(1)

    const file = join(mkdtempSync(join(tmpdir(), 'gguf-serve-k8s-')), 'config.yaml')
    writeFileSync(file, configMap.data['config.yaml'])
    const { shutdownGraceMs } = loadConfig({ flags: { config: file }, env: {} }).config.server
    const preStopS = Number(container.lifecycle?.preStop?.exec?.command?.at(-1) ?? 0)
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(shutdownGraceMs + preStopS * 1000)
  })

  it('routes the Service and the PodDisruptionBudget to the Deployment\'s pods', () => {
    const labels = deployment.spec.template.metadata.labels
    const service = byKind('Service')
    expect(labels).toMatchObject(service.spec.selector)
    expect(service.spec.ports[0].targetPort).toBe('http')
    expect(service.spec.ports[0].port).toBe(8080)
    expect(labels).toMatchObject(byKind('PodDisruptionBudget').spec.selector.matchLabels)
    expect(labels).toMatchObject(deployment.spec.selector.matchLabels)
  })

  it('scales the Deployment on a metric the server exports', () => {
    const hpa = byKind('HorizontalPodAutoscaler')
    expect(hpa.apiVersion).toBe('autoscaling/v2')
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: deployment.metadata.name })
    const exported = exportedMetricNames()
    expect(exported.has('gguf_serve_requests_waiting')).toBe(true)
    for (const metric of hpa.spec.metrics) {
      expect(exported, metric.pods.metric.name).toContain(metric.pods.metric.name)
    }
  })
})

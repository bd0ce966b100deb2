import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

/** One build stage: its base image, name and instructions (keyword upper-cased, arguments as written). */
interface Stage {
  from: string
  name: string | undefined
  instructions: Array<{ keyword: string; args: string }>
}

/** Enough of the Dockerfile grammar for these checks: comments, `\` continuations, FROM … AS …, ARG defaults. */
function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
  const args = new Map<string, string>()
  const stages: Stage[] = []
  for (const line of lines) {
    const [, keyword = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? []
    const upper = keyword.toUpperCase()
    if (upper === 'FROM') {
      const [, from = '', name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest) ?? []
      stages.push({ from, name, instructions: [] })
    } else if (stages.length === 0 && upper === 'ARG') {
      const [name = '', value = ''] = rest.split('=')
      args.set(name, value)
    } else {
      stages.at(-1)?.instructions.push({ keyword: upper, args: rest })
    }
  }
  return { args, stages }
}

const { args, stages } = parseDockerfile(readFileSync(fileURLToPath(new URL('../Dockerfile', import.meta.url)), 'utf8'))
const resolve = (image: string) => image.replace(/\$\{(\w+)\}/g, (_, name: string) => args.get(name) ?? '')
const stage = (name: string) => stages.find((s) => s.name === name)
const last = (s: Stage, keyword: string) => s.instructions.filter((i) => i.keyword === keyword).at(-1)?.args

describe('Dockerfile', () => {
  it('has a cpu target and a CUDA target, the CUDA one last (the default)', () => {
    expect(stage('cpu')).toBeDefined()
    expect(stage('cuda')).toBeDefined()
    expect(stages.at(-1)?.name).toBe('cuda')
    expect(resolve(stage('cuda')!.from)).toMatch(/^nvidia\/cuda:13\.\d+\.\d+-runtime-/)
    expect(resolve(stage('cpu')!.from)).toMatch(/^node:(20|22)[.\d]*-\S*slim$/)
  })

  it('pins every base image: no latest, no untagged images', () => {
    for (const s of stages) {
      const image = resolve(s.from)
      if (stages.some((other) => other.name === image)) continue // FROM an earlier stage
      expect(image, s.from).toMatch(/:[\w.-]+$/)
      expect(image, s.from).not.toMatch(/:latest$/)
    }
  })

  it('installs production dependencies with npm ci and builds in a build stage', () => {
    const runs = (name: string) => stage(name)!.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n')
    expect(runs('deps')).toMatch(/npm ci --omit=dev/)
    expect(runs('build')).toMatch(/npm run build/)
  })

  it('copies into the build stage every file npm run build reads', () => {
    const { scripts } = JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8'))
    const copied = stage('build')!.instructions.filter((i) => i.keyword === 'COPY').flatMap((i) => i.args.split(/\s+/).slice(0, -1))
    // Config files the build script names (tsconfig.build.json, web/vite.config.ts) and the sources they compile.
    const read = [...(scripts.build as string).matchAll(/(?:-p|--config)\s+(\S+)/g)].map((m) => m[1]!)
    for (const path of [...read, 'src/cli.ts', 'web/index.html']) {
      const top = path.split('/')[0]!
      expect(copied, path).toContain(path.includes('/') ? top : path)
    }
  })

  for (const name of ['cpu', 'cuda']) {
    describe(`final stage ${name}`, () => {
      const s = stage(name)!

      it('runs as a non-root user', () => {
        const user = last(s, 'USER')
        expect(user).toBeDefined()
        expect(user!.split(':')[0]).not.toMatch(/^(root|0)$/)
      })

      it('has a HEALTHCHECK on /health, STOPSIGNAL SIGTERM and EXPOSE 8080', () => {
        expect(last(s, 'HEALTHCHECK')).toMatch(/\/health/)
        expect(last(s, 'HEALTHCHECK')).not.toMatch(/\bcurl\b|\bwget\b/)
        expect(last(s, 'STOPSIGNAL')).toBe('SIGTERM')
        expect(last(s, 'EXPOSE')).toMatch(/\b8080\b/)
      })

      it('listens on all interfaces and keeps models in the /models volume', () => {
        const env = s.instructions.filter((i) => i.keyword === 'ENV').map((i) => i.args).join(' ')
        expect(env).toMatch(/GGUF_SERVE_HOST=0\.0\.0\.0/)
        expect(env).toMatch(/GGUF_SERVE_CACHE_DIR=\/models/)
        expect(last(s, 'VOLUME')).toMatch(/\/models/)
      })

      it('serves the default model into /models when no model is given: none is baked in', () => {
        const env = s.instructions.filter((i) => i.keyword === 'ENV').map((i) => i.args).join(' ')
        expect(env).not.toMatch(/GGUF_SERVE_MODEL=|GGUF_SERVE_CONFIG=/)
        expect(last(s, 'CMD')).not.toMatch(/--model|--config/)
      })

      it('runs dist/cli.js start', () => {
        expect(JSON.parse(last(s, 'ENTRYPOINT')!)).toEqual(['node', '/app/dist/cli.js'])
        expect(JSON.parse(last(s, 'CMD')!)).toEqual(['start'])
      })
    })
  }
})

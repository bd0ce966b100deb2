import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TSchema } from '@sinclair/typebox'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config/load-config.js'
import { ConfigSchema, ModelSettingsSchema } from '../src/config/schema.js'
import { DEFAULT_MODEL } from '../src/models/default-model.js'

const EXAMPLE = fileURLToPath(new URL('../config.example.yaml', import.meta.url))

/** Dotted paths of every leaf setting in a schema. */
function leaves(schema: TSchema, prefix = ''): string[] {
  if (schema.type !== 'object' || !schema.properties) return [prefix]
  return Object.entries(schema.properties as Record<string, TSchema>).flatMap(([key, sub]) =>
    key === 'models' ? [] : leaves(sub, prefix ? `${prefix}.${key}` : key),
  )
}

describe('config.example.yaml', () => {
  it('is a valid config that serves the default model, with the cache beside it', () => {
    const { config, models } = loadConfig({ flags: { config: EXAMPLE }, env: {} })
    expect(config.server.port).toBe(8080)
    expect(models).toMatchObject([{ id: DEFAULT_MODEL.id, source: DEFAULT_MODEL.source }])
    expect(config.download.cacheDir).toBe(path.join(path.dirname(EXAMPLE), 'models'))
  })

  it('names itself in its start command', () => {
    expect(readFileSync(EXAMPLE, 'utf8')).toContain('npx gguf-serve start --config config.example.yaml\n')
  })

  it('documents every setting', () => {
    const text = readFileSync(EXAMPLE, 'utf8')
    for (const path of [...leaves(ConfigSchema), ...Object.keys(ModelSettingsSchema.properties).map((k) => `modelDefaults.${k}`)]) {
      expect(text, path).toMatch(new RegExp(`^\\s*#?\\s*${path.split('.').at(-1)}:`, 'm'))
    }
  })
})

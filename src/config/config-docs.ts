import type { TSchema } from '@sinclair/typebox'
import { DEFAULT_MODEL } from '../models/default-model.js'
import { SETTINGS } from './load-config.js'
import { ConfigSchema, ModelEntrySchema, ModelSettingsSchema } from './schema.js'

/**
 * The README's tables of settings, generated from the one config schema and the flag/environment list, so
 * the documentation cannot drift from the code (test/config-docs.test.ts compares them).
 */
export function renderConfigTables(): string {
  const rows = [
    ['`models`', '`--model [id=]source` (repeatable)', '`GGUF_SERVE_MODEL`', `\`${DEFAULT_MODEL.id}\` (${DEFAULT_MODEL.source})`, ConfigSchema.properties.models.description ?? ''],
    ['—', '`--config FILE`', '`GGUF_SERVE_CONFIG`', '—', 'The YAML config file; relative paths in it resolve against its folder.'],
    ...settingRows(ConfigSchema, ''),
  ]
  const modelRows = Object.entries(ModelEntrySchema.properties as Record<string, TSchema>)
    .filter(([key]) => !(key in ModelSettingsSchema.properties))
    .flatMap(([key, schema]) => leafRows(schema, key))
    .map(([key, schema]) => [`\`${key}\``, formatDefault(schema), cell(schema.description ?? '')])
  return [
    table(['Config key', 'Flag', 'Environment', 'Default', 'Meaning'], rows),
    '',
    'Each entry of `models` takes these keys, and any `modelDefaults` key for that model alone:',
    '',
    table(['Key', 'Default', 'Meaning'], modelRows),
  ].join('\n')
}

function settingRows(schema: TSchema, prefix: string): string[][] {
  return Object.entries(schema.properties as Record<string, TSchema>)
    .filter(([key]) => key !== 'models')
    .flatMap(([key, sub]) => leafRows(sub, prefix ? `${prefix}.${key}` : key))
    .map(([path, leaf]) => {
      const setting = SETTINGS.find((s) => (s.path[0] === '*' ? `modelDefaults.${s.path[1]}` : s.path.join('.')) === path)
      const flag = setting ? flagName(setting.flag, leaf) : '—'
      const env = setting ? `\`GGUF_SERVE_${setting.env}\`${setting.list ? ' (comma-separated)' : ''}` : '—'
      return [`\`${path}\``, flag, env, formatDefault(leaf), cell(leaf.description ?? '')]
    })
}

/** Dotted paths of the leaves under a schema; objects with free-form keys are leaves. */
function leafRows(schema: TSchema, path: string): Array<[string, TSchema]> {
  if (schema.type !== 'object' || !schema.properties) return [[path, schema]]
  return Object.entries(schema.properties as Record<string, TSchema>).flatMap(([key, sub]) => leafRows(sub, `${path}.${key}`))
}

function flagName(flag: string, schema: TSchema): string {
  const kebab = flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
  if (schema.type === 'boolean') return schema.default === true ? `\`--${kebab}\`, \`--no-${kebab}\`` : `\`--${kebab}\``
  if (schema.type === 'array') return `\`--${kebab} ${placeholder(schema.items as TSchema)}\` (repeatable)`
  return `\`--${kebab} ${placeholder(schema)}\``
}

/** `auto\|N`, `cuda\|vulkan\|…`, `N`, `TEXT`: what the flag takes. */
function placeholder(schema: TSchema): string {
  if (schema.anyOf) return (schema.anyOf as TSchema[]).map(placeholder).join('\\|')
  if (schema.const !== undefined) return String(schema.const)
  return schema.type === 'integer' || schema.type === 'number' ? 'N' : 'TEXT'
}

function formatDefault(schema: TSchema): string {
  return schema.default === undefined ? '—' : `\`${JSON.stringify(schema.default)}\``
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ')
}

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n')
}

import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { renderConfigTables } from '../src/config/config-docs.js'
import { runCli } from './helpers/cli-process.js'

const README = fileURLToPath(new URL('../README.md', import.meta.url))
const START = '<!-- config-table:start -->\n'
const END = '<!-- config-table:end -->'

/** The README's generated part; UPDATE_README=1 rewrites it from the schema instead of failing. */
function readmeTables(): string {
  let text = readFileSync(README, 'utf8')
  const from = text.indexOf(START) + START.length
  const to = text.indexOf(END)
  expect(from).toBeGreaterThanOrEqual(START.length)
  expect(to).toBeGreaterThan(from - 1)
  if (process.env.UPDATE_README === '1') {
    text = `${text.slice(0, from)}${renderConfigTables()}\n${text.slice(to)}`
    writeFileSync(README, text)
  }
  return text.slice(text.indexOf(START) + START.length, text.indexOf(END))
}

describe('README settings table', () => {
  it('is the one generated from the config schema (UPDATE_README=1 npx vitest run test/config-docs.test.ts rewrites it)', () => {
    expect(readmeTables()).toBe(`${renderConfigTables()}\n`)
  })

  it('documents every flag `gguf-serve start --help` lists', async () => {
    const help = runCli(['start', '--help'])
    expect(await help.exited).toBe(0)
    const flags = [...help.output().matchAll(/^\s+(?:-\w, )?(--[a-z-]+)/gm)].map((m) => m[1]!).filter((f) => f !== '--help')
    expect(flags.length).toBeGreaterThan(20)
    const tables = readmeTables()
    for (const flag of flags) expect(tables, flag).toMatch(new RegExp(`\`${flag}[\` ]`))
  }, 120_000)
})

import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'vite'
import viteConfig from '../../web/vite.config.js'

const WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url))
const BUILT_PAGE = fileURLToPath(new URL('../../dist/ui/index.html', import.meta.url))
/** Modules outside web/ that the page bundles too. */
const SHARED_SOURCES = [fileURLToPath(new URL('../../src/api/sse-parser.ts', import.meta.url))]

/**
 * Builds the page into dist/ui exactly as `npm run build` does, unless that build is newer than every
 * file under web/ (and the shared modules it imports): the browser tests then see the current sources even when the suite runs from src/,
 * and a fresh build (CI builds before testing) is not emptied under other test files' servers.
 */
export async function ensureUiBuilt(): Promise<void> {
  if (builtAt() > newestSource()) return
  await build({ ...viteConfig, root: WEB_ROOT, configFile: false, logLevel: 'warn' })
}

function builtAt(): number {
  try {
    return statSync(BUILT_PAGE).mtimeMs
  } catch {
    return 0
  }
}

function newestSource(): number {
  const files = readdirSync(WEB_ROOT, { recursive: true, encoding: 'utf8' })
  return Math.max(...files.map((file) => statSync(join(WEB_ROOT, file)).mtimeMs), ...SHARED_SOURCES.map((file) => statSync(file).mtimeMs))
}

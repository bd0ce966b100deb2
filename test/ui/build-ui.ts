import { fileURLToPath } from 'node:url'
import { build } from 'vite'
import viteConfig from '../../web/vite.config.js'

const WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url))

/**
 * Builds the page into dist/ui exactly as `npm run build` does, so the browser tests see the current
 * web/ sources even when the suite runs from src/ without a build.
 */
export async function buildUi(): Promise<void> {
  await build({ ...viteConfig, root: WEB_ROOT, configFile: false, logLevel: 'warn' })
}

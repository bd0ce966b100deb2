import { defineConfig } from 'vite'

/**
 * Builds the web playground into dist/ui (served by src/http/plugins/ui.ts). The root is this folder:
 * `vite build web --config web/vite.config.ts`, or `root` given to vite's build() in the tests.
 */
export default defineConfig({
  base: '/',
  // The page's files only: vite would otherwise read the repo's .env files and public/ beside the root.
  envDir: false,
  build: {
    outDir: '../dist/ui',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    // One entry chunk and evergreen browsers: the polyfill would only add bytes.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
})

/**
 * The import direction of src/ (see ARCHITECTURE.md), checked by `npm run lint`:
 *
 *   http → api → (generation contract) ← scheduler → engine
 *
 * - generation/ is the protocol-free contract: everyone may import it; it imports nothing of ours
 *   but the shared errors.
 * - Routes and codecs (http/, api/) reach the models only through the ModelBackend face: never engine/
 *   or scheduler/ (server.ts, the composition root, wires the registry in).
 * - scheduler/ and engine/ know nothing of the wire: no api/, no http/.
 * - constraints/ (JSON Schema → grammar, validation) is pure: codecs and engine both use it.
 * - node-llama-cpp is the engine's alone. Two documented exceptions measure or check the engine from
 *   outside the server: the benchmark's raw-engine baseline (src/bench/raw-engine.ts) and the GGUF
 *   writer's read-back check (src/gguf/make-model.ts). src/models/ (model sources, downloads, the cache) uses
 *   node-llama-cpp's pure-JS file tools (GGUF header reader, downloader), never the native engine.
 */
module.exports = {
  forbidden: [
    {
      name: 'contract-is-neutral',
      comment: 'src/generation/ is the protocol-free contract: it may import only itself and src/errors.ts.',
      severity: 'error',
      from: { path: '^src/generation/' },
      to: { path: '^src/', pathNot: ['^src/generation/', '^src/errors\\.ts$'] },
    },
    {
      name: 'protocol-not-into-backend',
      comment: 'http/ and api/ see the models only through ModelBackend (src/generation/backend.ts).',
      severity: 'error',
      from: { path: '^src/(http|api)/' },
      to: { path: '^src/(engine|scheduler|models)/' },
    },
    {
      name: 'constraints-are-pure',
      comment:
        'src/constraints/ (JSON Schema → grammar, validation) is pure and shared by the codecs and the engine: ' +
        'it imports only itself, the contract, the errors and the tool-call format descriptions.',
      severity: 'error',
      from: { path: '^src/constraints/' },
      to: { path: '^src/', pathNot: ['^src/(constraints|generation)/', '^src/errors\\.ts$', '^src/engine/tool-call-formats\\.ts$'] },
    },
    {
      name: 'api-not-into-http',
      comment: 'The codecs are pure: they know nothing of Fastify or the routes.',
      severity: 'error',
      from: { path: '^src/api/' },
      to: { path: '^src/http/' },
    },
    {
      name: 'backend-not-into-protocol',
      comment: 'The scheduler and the engine speak the contract, never the wire protocols.',
      severity: 'error',
      from: { path: '^src/(scheduler|engine)/' },
      to: { path: '^src/(api|http)/' },
    },
    {
      name: 'engine-not-into-scheduler',
      comment: 'The engine is the bottom layer: the scheduler drives it, not the other way round.',
      severity: 'error',
      from: { path: '^src/engine/' },
      to: { path: '^src/scheduler/' },
    },
    {
      name: 'node-llama-cpp-only-in-engine',
      comment:
        'Only the engine talks to llama.cpp (exceptions: the raw-engine benchmark baseline, the GGUF read-back check, ' +
        'and src/models/, which uses node-llama-cpp\'s pure-JS file tools: the GGUF header reader and the downloader).',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/engine/', '^src/models/', '^src/bench/raw-engine\\.ts$', '^src/gguf/make-model\\.ts$'] },
      to: { path: 'node_modules/node-llama-cpp/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js'] },
  },
}

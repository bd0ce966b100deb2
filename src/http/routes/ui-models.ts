import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { ModelDescription } from '../../generation/backend.js'

const MemorySchema = Type.Object({ ram: Type.Number(), vram: Type.Number() })

const UiModelSchema = Type.Object({
  id: Type.String(),
  aliases: Type.Array(Type.String()),
  state: Type.String(),
  context_size: Type.Integer(),
  /** Null while not loaded: the figures below come from the loaded model. */
  train_context_size: Type.Union([Type.Integer(), Type.Null()]),
  slots_total: Type.Integer(),
  slots_busy: Type.Integer(),
  queue: Type.Integer(),
  kv_cache_tokens: Type.Integer(),
  gpu_layers: Type.Union([Type.Integer(), Type.Null()]),
  threads: Type.Union([Type.Integer(), Type.Null()]),
  file_size_bytes: Type.Union([Type.Number(), Type.Null()]),
  prompt_format: Type.Union([Type.String(), Type.Null()]),
  /** llama.cpp's own estimates: the weights, and the context (KV cache and compute buffers of every slot). */
  weights_memory: Type.Union([MemorySchema, Type.Null()]),
  context_memory: Type.Union([MemorySchema, Type.Null()]),
})

const UiModelListSchema = Type.Object({ data: Type.Array(UiModelSchema) })

/**
 * `GET /ui/models`: what the dashboard shows about each configured model and that neither /v1/models nor
 * /health carries (context shape, GPU layers, memory). Behind the API key like the rest of the API, and
 * left out of the OpenAPI document: it is the web UI's, not a public contract.
 */
export const uiModelRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/ui/models', { schema: { response: { 200: UiModelListSchema } } }, async () => ({
    data: app.models.describe().map(toUiModel),
  }))
}

function toUiModel(model: ModelDescription) {
  const { loaded } = model
  return {
    id: model.id,
    aliases: model.aliases,
    state: model.state,
    context_size: model.contextSize,
    train_context_size: loaded?.trainContextSize ?? null,
    slots_total: model.slotsTotal,
    slots_busy: model.slotsBusy,
    queue: model.queue,
    kv_cache_tokens: model.kvCacheTokens,
    gpu_layers: loaded?.gpuLayers ?? null,
    threads: loaded?.threads ?? null,
    file_size_bytes: loaded?.sizeBytes ?? null,
    prompt_format: loaded?.promptFormat ?? null,
    weights_memory: loaded?.weightsMemory ?? null,
    context_memory: loaded?.contextMemory ?? null,
  }
}

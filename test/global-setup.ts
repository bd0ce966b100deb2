import { ensureSyntheticModel } from '../src/gguf/make-model.js'
import { HERMES_MODEL_PATH, KIMI_MODEL_PATH, LLAMA3_MODEL_PATH, MISTRAL_MODEL_PATH, THINKING_MODEL_PATH, TINY_MODEL_PATH } from './helpers/models.js'
import { HERMES_TOOLS_TEMPLATE, KIMI_TOOLS_TEMPLATE, LLAMA3_TOOLS_TEMPLATE, MISTRAL_TOOLS_TEMPLATE, THINKING_TEMPLATE } from './helpers/tool-templates.js'

/** Generates the models the suite needs once per run (skipped when already there). */
export default async function setup(): Promise<void> {
  await Promise.all([
    ensureSyntheticModel(TINY_MODEL_PATH, 'tiny', { seed: 1 }),
    ensureSyntheticModel(HERMES_MODEL_PATH, 'tiny', { seed: 1, chatTemplate: HERMES_TOOLS_TEMPLATE }),
    ensureSyntheticModel(LLAMA3_MODEL_PATH, 'tiny', { seed: 1, chatTemplate: LLAMA3_TOOLS_TEMPLATE }),
    ensureSyntheticModel(MISTRAL_MODEL_PATH, 'tiny', { seed: 1, chatTemplate: MISTRAL_TOOLS_TEMPLATE }),
    ensureSyntheticModel(KIMI_MODEL_PATH, 'tiny', { seed: 1, chatTemplate: KIMI_TOOLS_TEMPLATE }),
    ensureSyntheticModel(THINKING_MODEL_PATH, 'tiny', { seed: 1, chatTemplate: THINKING_TEMPLATE }),
  ])
}

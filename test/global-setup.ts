import { ensureSyntheticModel } from '../src/gguf/make-model.js'
import { TINY_MODEL_PATH } from './helpers/models.js'

/** Generates the models the suite needs once per run (skipped when already there). */
export default async function setup(): Promise<void> {
  await ensureSyntheticModel(TINY_MODEL_PATH, 'tiny', { seed: 1 })
}

import { apiFetch, errorMessage } from './api-client.js'
import { byId, h } from './dom.js'

const MODEL_KEY = 'gguf-serve.model'

/** The model select: filled from /v1/models, remembering the last choice. */
export class ModelPicker {
  private readonly select = byId<HTMLSelectElement>('model')

  constructor() {
    this.select.addEventListener('change', () => localStorage.setItem(MODEL_KEY, this.select.value))
  }

  get value(): string {
    return this.select.value
  }

  /** Loads the list; returns an error message when it cannot. */
  async load(): Promise<string | null> {
    const response = await apiFetch('/v1/models')
    if (!response.ok) return `Cannot list models: ${await errorMessage(response)}`
    const { data } = (await response.json()) as { data: Array<{ id: string; status?: string }> }
    this.select.replaceChildren(...data.map((m) => h('option', { value: m.id }, m.status && m.status !== 'ready' ? `${m.id} (${m.status})` : m.id)))
    const remembered = localStorage.getItem(MODEL_KEY)
    if (remembered && data.some((m) => m.id === remembered)) this.select.value = remembered
    return null
  }
}

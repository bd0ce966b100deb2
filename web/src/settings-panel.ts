import { DEFAULT_SETTINGS, type ChatSettings } from './chat-request.js'
import { byId } from './dom.js'

const SETTINGS_KEY = 'gguf-serve.settings'

type Field = HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement

/**
 * The settings form: each control is named after its ChatSettings key. Values are kept in local storage
 * as they change, so a reload keeps them.
 */
export class SettingsPanel {
  private readonly form = byId<HTMLFormElement>('settings-form')

  constructor() {
    const stored = this.stored()
    for (const [key, value] of Object.entries(stored)) {
      const field = this.field(key)
      if (field) field.value = value
    }
    this.showSchemaField()
    this.form.addEventListener('input', () => {
      localStorage.setItem(SETTINGS_KEY, JSON.stringify(this.read()))
      this.showSchemaField()
    })
    // Nothing to submit: Enter in a field must not reload the page.
    this.form.addEventListener('submit', (event) => event.preventDefault())
  }

  read(): ChatSettings {
    const settings = { ...DEFAULT_SETTINGS }
    for (const key of Object.keys(settings) as Array<keyof ChatSettings>) {
      const field = this.field(key)
      if (field) (settings as Record<string, string>)[key] = field.value
    }
    return settings
  }

  private stored(): ChatSettings {
    try {
      return { ...DEFAULT_SETTINGS, ...(JSON.parse(localStorage.getItem(SETTINGS_KEY) ?? '{}') as Partial<ChatSettings>) }
    } catch {
      return { ...DEFAULT_SETTINGS }
    }
  }

  private field(name: string): Field | null {
    const field = this.form.elements.namedItem(name)
    return field instanceof HTMLInputElement || field instanceof HTMLTextAreaElement || field instanceof HTMLSelectElement ? field : null
  }

  private showSchemaField(): void {
    byId('schema-field').hidden = this.field('responseFormat')?.value !== 'json_schema'
  }
}

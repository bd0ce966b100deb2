import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { ChatTemplate } from '../src/engine/chat-template.js'
import {
  BOS,
  CONVERSATIONS,
  EOS,
  haveCorpus,
  havePythonJinja,
  loadTemplateCorpus,
  referenceContext,
  renderWithPython,
  type RenderResult,
} from './helpers/template-corpus.js'

/**
 * Golden test: every chat template in llama.cpp's corpus, rendered for fixed conversations by our
 * renderer and by Python Jinja2 the way transformers renders it (test/helpers/render_templates.py),
 * must give the same text (or both reject the conversation), unless listed below with its reason.
 */

/** One date for both renderers' `strftime_now` (Llama 3.x prints it). */
const NOW = Date.UTC(2026, 0, 15, 12, 0, 0)

/** Where we knowingly differ from the reference, by template and case, with why. */
const EXPLAINED: Record<string, Record<string, string>> = {
  'llama-cpp-deepseek-r1': {
    tools: "The reference fails (json.dumps of a generator): llama.cpp's own template is written for its minja engine, which renders it; so do we.",
    'tool calls and results': 'As for `tools`.',
  },
  'Kimi-K2-Instruct': {
    'tool calls and results':
      "The reference fails (SecurityError: list.append): transformers' immutable sandbox forbids mutating a list, which the template does to queue tool-call ids. llama.cpp's minja renders it; so do we.",
  },
  'Kimi-K2-Thinking': { 'tool calls and results': 'As for Kimi-K2-Instruct.' },
  'meetkai-functionary-medium-v3.1': {
    tools:
      "The reference HTML-escapes the tool JSON (&#34;): `'…'|safe + t | tojson` makes Python's Markup escape the JSON it adds. We print the JSON as the template's author meant; Functionary's own code renders it unescaped.",
    'tool calls and results': 'As for `tools`.',
  },
  'meetkai-functionary-medium-v3.2': {
    'tool calls and results':
      'The reference fails (str + dict): the template wants arguments as a JSON string, transformers passes a mapping; we print the mapping as JSON, which is what the model was trained on.',
  },
}

type Verdict = 'identical' | 'both reject' | 'explained'

describe.skipIf(!haveCorpus() || !havePythonJinja())('chat templates render like Hugging Face transformers', () => {
  let corpus: Map<string, string>
  let reference: Record<string, Record<string, RenderResult>>
  const verdicts = new Map<string, Map<string, Verdict>>()

  beforeAll(() => {
    corpus = loadTemplateCorpus()
    const cases = Object.fromEntries(Object.entries(CONVERSATIONS).map(([name, c]) => [name, referenceContext(c)]))
    reference = renderWithPython(corpus, cases, NOW / 1000)
    vi.useFakeTimers({ toFake: ['Date'], now: NOW })
  }, 120_000)

  afterAll(() => {
    vi.useRealTimers()
  })

  it('reads the whole corpus from the bundled llama.cpp source', () => {
    expect(corpus.size).toBeGreaterThanOrEqual(70)
    expect([...corpus.keys()]).toContain('meetkai-functionary-medium-v3.2')
  })

  it('renders every template for every conversation as the reference does, or as explained', () => {
    const mismatches: string[] = []
    for (const [name, source] of corpus) {
      const template = new ChatTemplate(source)
      const perCase = new Map<string, Verdict>()
      verdicts.set(name, perCase)
      for (const [caseName, c] of Object.entries(CONVERSATIONS)) {
        const ours = renderOurs(template, c)
        const expected = reference[name]![caseName]!
        const same = 'text' in expected ? 'text' in ours && ours.text === expected.text : 'error' in ours
        const why = EXPLAINED[name]?.[caseName]
        if (why) {
          // The allow-list stays honest: an explained case must still differ.
          if (same) mismatches.push(`${name} / ${caseName}: listed as explained but now matches; drop it from EXPLAINED`)
          perCase.set(caseName, 'explained')
        } else if (!same) {
          mismatches.push(`${name} / ${caseName}:\n  reference: ${JSON.stringify(expected).slice(0, 300)}\n  ours:      ${JSON.stringify(ours).slice(0, 300)}`)
        } else {
          perCase.set(caseName, 'text' in expected ? 'identical' : 'both reject')
        }
      }
    }
    expect(mismatches).toEqual([])
  })

  it('explains only templates and cases that exist', () => {
    for (const [name, cases] of Object.entries(EXPLAINED)) {
      expect(corpus.has(name), name).toBe(true)
      for (const caseName of Object.keys(cases)) expect(Object.keys(CONVERSATIONS)).toContain(caseName)
    }
  })

  it('renders most templates identically for every conversation', () => {
    const fullyIdentical = [...verdicts.values()].filter((cases) => [...cases.values()].every((v) => v !== 'explained')).length
    expect(fullyIdentical).toBe(corpus.size - Object.keys(EXPLAINED).length)
  })
})

function renderOurs(template: ChatTemplate, c: (typeof CONVERSATIONS)[string]): RenderResult {
  try {
    const options = c.addGenerationPrompt
      ? null
      : { source: null, variables: {}, variablesParam: 'chat_template_kwargs', reasoningEffort: null, addGenerationPrompt: false, continueFinalMessage: false, documents: null }
    return { text: template.render({ messages: c.messages, tools: c.tools, options, bosToken: BOS, eosToken: EOS }) }
  } catch (error) {
    return { error: (error as Error).message }
  }
}

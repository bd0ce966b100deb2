import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { hfMessage } from '../../src/engine/chat-template.js'
import { hfTool } from '../../src/engine/tool-prompt.js'
import type { ChatMessage, ToolDefinition } from '../../src/generation/request.js'

/**
 * The real chat templates llama.cpp tests with (`models/templates/*.jinja`), read from the llama.cpp
 * source node-llama-cpp ships as a git bundle; cloned into a temp dir at test time, never copied here.
 */
const BUNDLE = fileURLToPath(new URL('../../node_modules/node-llama-cpp/llama/gitRelease.bundle', import.meta.url))

export function haveCorpus(): boolean {
  return existsSync(BUNDLE) && commandWorks('git', ['--version'])
}

/**
 * A Python that has Jinja2: the one on PATH (it may be a pyenv build without it), else Debian's, where
 * `python3-jinja2` installs it. null = none, and the golden test skips (never in CI: .ci/run installs it).
 */
const PYTHON = ['python3', '/usr/bin/python3'].find((python) => commandWorks(python, ['-c', 'import jinja2'])) ?? null

export function havePythonJinja(): boolean {
  if (PYTHON === null && process.env.CI) throw new Error('CI needs Python Jinja2 for the chat-template golden test (Debian python3-jinja2).')
  return PYTHON !== null
}

/** Every template in the corpus, by file name without `.jinja`. */
export function loadTemplateCorpus(): Map<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'gguf-serve-templates-'))
  try {
    execFileSync('git', ['clone', '--quiet', '--no-checkout', BUNDLE, join(dir, 'llama')], { stdio: 'ignore' })
    execFileSync('git', ['-C', join(dir, 'llama'), 'checkout', '--quiet', 'HEAD', '--', 'models/templates'], { stdio: 'ignore' })
    const templates = new Map<string, string>()
    const folder = join(dir, 'llama', 'models', 'templates')
    for (const file of readdirSync(folder).filter((f) => f.endsWith('.jinja')).sort()) {
      templates.set(file.slice(0, -'.jinja'.length), readFileSync(join(folder, file), 'utf8'))
    }
    return templates
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export type RenderResult = { text: string } | { error: string }

/** Renders every template for every context with Python Jinja2 as transformers does (test/helpers/render_templates.py). */
export function renderWithPython(
  templates: ReadonlyMap<string, string>,
  cases: Record<string, Record<string, unknown>>,
  now: number,
): Record<string, Record<string, RenderResult>> {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'render_templates.py')
  const input = JSON.stringify({ now, templates: Object.fromEntries(templates), cases })
  const out = execFileSync(PYTHON ?? 'python3', [script], { input, maxBuffer: 256 * 1024 * 1024 })
  return JSON.parse(out.toString('utf8')) as Record<string, Record<string, RenderResult>>
}

export const WEATHER_TOOL: ToolDefinition = {
  name: 'get_weather',
  description: 'Get the current weather in a city.',
  parameters: {
    type: 'object',
    properties: {
      city: { type: 'string', description: 'The city, e.g. Paris' },
      unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
    },
    required: ['city'],
  },
}

/** Nine alphanumerics: Mistral's templates reject any other tool-call id. */
export const CALL_ID = 'call0A1b2'

export interface ConversationCase {
  messages: ChatMessage[]
  tools: ToolDefinition[] | null
  addGenerationPrompt: boolean
}

/** The fixed conversations every template renders. */
export const CONVERSATIONS: Record<string, ConversationCase> = {
  'system+user': {
    messages: [
      { role: 'system', content: 'You are a terse assistant.' },
      { role: 'user', content: 'Hello there!' },
    ],
    tools: null,
    addGenerationPrompt: true,
  },
  'user, no generation prompt': {
    messages: [{ role: 'user', content: 'Hello there!' }],
    tools: null,
    addGenerationPrompt: false,
  },
  'multi-turn': {
    messages: [
      { role: 'system', content: 'You are a terse assistant.' },
      { role: 'user', content: 'What is 2+2?' },
      { role: 'assistant', content: 'Four.' },
      { role: 'user', content: 'And 3+3? Answer "six" in “quotes” — é.' },
    ],
    tools: null,
    addGenerationPrompt: true,
  },
  'multi-turn ending with the assistant, no generation prompt': {
    messages: [
      { role: 'user', content: 'What is 2+2?' },
      { role: 'assistant', content: 'Four.' },
    ],
    tools: null,
    addGenerationPrompt: false,
  },
  tools: {
    messages: [
      { role: 'system', content: 'You are a terse assistant.' },
      { role: 'user', content: 'Weather in Paris?' },
    ],
    tools: [WEATHER_TOOL],
    addGenerationPrompt: true,
  },
  'tool calls and results': {
    messages: [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: '', toolCalls: [{ id: CALL_ID, name: 'get_weather', arguments: { city: 'Paris', unit: 'celsius' } }] },
      { role: 'tool', content: '{"temperature": 21}', toolCallId: CALL_ID },
    ],
    tools: [WEATHER_TOOL],
    addGenerationPrompt: true,
  },
  'reasoning content': {
    messages: [
      { role: 'user', content: 'What is 2+2?' },
      { role: 'assistant', content: 'Four.', reasoning: 'Two plus two is four.' },
      { role: 'user', content: 'Thanks.' },
    ],
    tools: null,
    addGenerationPrompt: true,
  },
}

export const BOS = '<s>'
export const EOS = '</s>'

/** A case as transformers' `render` receives it (what the Python side is given). */
export function referenceContext(c: ConversationCase): Record<string, unknown> {
  return {
    messages: c.messages.map(hfMessage),
    ...(c.tools ? { tools: c.tools.map(hfTool) } : {}),
    add_generation_prompt: c.addGenerationPrompt,
    bos_token: BOS,
    eos_token: EOS,
  }
}

function commandWorks(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

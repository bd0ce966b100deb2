import { existsSync, mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { scrape, value } from '../helpers/prometheus.js'
import { startTestServer, type TestServer } from '../helpers/test-server.js'
import { ensureUiBuilt } from './build-ui.js'

const CHROMIUM = '/usr/bin/chromium'
const HAS_CHROMIUM = existsSync(CHROMIUM)
const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url))
const MODEL = 'tiny-chat'
/** Long enough to still be generating when the test acts (the tiny model never stops on its own). */
const LONG_REPLY_TOKENS = '2000'
/** The dashboard polls once a second; a page under a loaded machine may take a few. */
const EVENTUALLY = { timeout: 15_000 }

let t: TestServer

beforeAll(async () => {
  // Before the server starts: the UI plugin looks for the build when it registers.
  await ensureUiBuilt()
  t = await startTestServer({ parallel: '2', contextSize: '2048' })
})
afterAll(() => t?.close())

describe('the UI plugin', () => {
  it('serves the page with a Content-Security-Policy, its hashed assets as immutable, and leaves API 404s alone', async () => {
    const page = await fetch(`${t.origin}/`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toMatch(/^text\/html/)
    const csp = page.headers.get('content-security-policy')
    expect(csp).toContain("default-src 'self'")
    expect(csp).toContain("connect-src 'self'")
    expect(csp).toContain("script-src 'self'")
    const html = await page.text()
    // No inline script, nothing from another origin.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/)
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//)

    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1]
    expect(script).toBeDefined()
    const asset = await fetch(`${t.origin}${script}`)
    expect(asset.status).toBe(200)
    expect(asset.headers.get('cache-control')).toContain('immutable')
    expect((await fetch(`${t.origin}/favicon.svg`)).status).toBe(200)

    const unknown = await fetch(`${t.origin}/no-such-page`)
    expect(unknown.status).toBe(404)
    expect(((await unknown.json()) as any).error.code).toBe('unknown_url')
    expect((await fetch(`${t.origin}/assets/missing.js`)).status).toBe(404)
  })

  it('GET /ui/models describes each model for the dashboard', async () => {
    const res = await fetch(`${t.origin}/ui/models`)
    expect(res.status).toBe(200)
    const [model] = ((await res.json()) as any).data
    expect(model).toMatchObject({ id: MODEL, state: 'ready', context_size: 2048, slots_total: 2, slots_busy: 0, gpu_layers: 0, threads: 1 })
    expect(model.weights_memory.ram + model.weights_memory.vram).toBeGreaterThan(0)
    expect(model.context_memory.ram + model.context_memory.vram).toBeGreaterThan(0)
  })
})

describe('--no-ui', () => {
  it('serves neither the page nor its JSON: / is an unknown route', async () => {
    const headless = await startTestServer({ parallel: '1', contextSize: '256', ui: false })
    try {
      const page = await fetch(`${headless.origin}/`)
      expect(page.status).toBe(404)
      expect(((await page.json()) as any).error.code).toBe('unknown_url')
      expect((await fetch(`${headless.origin}/ui/models`)).status).toBe(404)
    } finally {
      await headless.close()
    }
  })
})

const browserSuite = HAS_CHROMIUM
  ? 'the web UI in Chromium'
  : `the web UI in Chromium: skipped, ${CHROMIUM} is missing (apt-get install chromium)`

describe.skipIf(!HAS_CHROMIUM)(browserSuite, () => {
  let browser: Browser
  let context: BrowserContext | undefined
  /** Console errors and uncaught exceptions of the page (CSP violations are reported there). */
  let pageErrors: string[] = []
  /** Bodies of the chat requests the page sent, in order. */
  let chatRequests: Array<Record<string, any>> = []

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true })
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    })
  })
  afterAll(() => browser?.close())
  afterEach(async () => {
    await context?.close()
    context = undefined
    expect(pageErrors).toEqual([])
  })

  /** A fresh browser profile (empty storage) on the playground, the model list loaded. */
  async function openPlayground(origin = t.origin, options: BrowserContextOptions = {}): Promise<Page> {
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options })
    const page = await context.newPage()
    pageErrors = []
    chatRequests = []
    page.on('console', (message) => {
      if (message.type() === 'error' && !/status of 401/.test(message.text())) pageErrors.push(message.text())
    })
    page.on('pageerror', (error) => pageErrors.push(error.message))
    page.on('request', (request) => {
      if (request.method() === 'POST' && request.url().endsWith('/v1/chat/completions')) chatRequests.push(request.postDataJSON())
    })
    await page.goto(origin)
    return page
  }

  async function waitForModels(page: Page): Promise<void> {
    await page.locator(`#model option[value="${MODEL}"]`).waitFor({ state: 'attached' })
  }

  async function setSettings(page: Page, values: Record<string, string>): Promise<void> {
    if ((await page.locator('#settings').getAttribute('open')) === null) await page.click('#settings summary')
    for (const [name, text] of Object.entries(values)) {
      const field = page.locator(`#settings-form [name="${name}"]`)
      if (name === 'responseFormat') await field.selectOption(text)
      else await field.fill(text)
    }
  }

  async function send(page: Page, text: string): Promise<void> {
    await page.fill('#prompt', text)
    await page.press('#prompt', 'Enter')
  }

  const lastReply = (page: Page) => page.locator('#messages > li.assistant').last()

  /** Waits until the last reply shows its closing line (finished, stopped or failed) and returns it. */
  async function replyEnd(page: Page): Promise<string> {
    const stats = lastReply(page).locator('.stats', { hasText: /finish:|stopped|Error/ })
    await stats.waitFor({ timeout: 30_000 })
    return (await stats.textContent()) ?? ''
  }

  const replyLength = async (page: Page) => ((await lastReply(page).locator('.content').textContent()) ?? '').length

  it('streams a reply into the page as it is generated, then shows its usage, TTFT and tokens/s', async () => {
    const page = await openPlayground()
    await waitForModels(page)
    await setSettings(page, { maxTokens: '150' })
    // Records the reply's length at every DOM change, in the page (a string: the test's tsconfig has no DOM).
    await page.evaluate(`(() => {
      window.replyLengths = []
      new MutationObserver(() => {
        const reply = document.querySelector('#messages > li.assistant:last-child .content')
        if (reply) window.replyLengths.push(reply.textContent.length)
      }).observe(document.getElementById('messages'), { subtree: true, childList: true, characterData: true })
    })()`)
    await send(page, 'Tell me a story.')
    const end = await replyEnd(page)
    expect(end).toMatch(/\d+ prompt tokens \(0 cached\) \+ 150 completion · TTFT \d+ ms · [\d.]+ tokens\/s · finish: length/)
    const lengths = (await page.evaluate('window.replyLengths')) as number[]
    const final = lengths.at(-1)!
    const partial = new Set(lengths.filter((length) => length > 0 && length < final))
    expect(partial.size, `reply lengths seen: ${lengths.join(',')}`).toBeGreaterThanOrEqual(3)

    expect(chatRequests).toHaveLength(1)
    expect(chatRequests[0]).toMatchObject({
      model: MODEL,
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 150,
      messages: [{ role: 'user', content: 'Tell me a story.' }],
    })
    // The conversation survives a reload (local storage).
    await page.reload()
    await expect.poll(() => page.locator('#messages > li').count(), EVENTUALLY).toBe(2)
    await expect.poll(() => page.locator('#conversation-list li').count(), EVENTUALLY).toBe(1)
  })

  it('sends the sampling settings; regenerate repeats a seeded reply, edit-and-resend replaces the turn', async () => {
    const page = await openPlayground()
    await waitForModels(page)
    await setSettings(page, {
      systemPrompt: 'You are terse.',
      temperature: '0.7',
      topP: '0.9',
      topK: '40',
      minP: '0.05',
      maxTokens: '24',
      seed: '1234',
      stop: 'STOP\nEND',
    })
    await send(page, 'Hello there')
    await replyEnd(page)
    expect(chatRequests[0]).toMatchObject({
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Hello there' },
      ],
      temperature: 0.7,
      top_p: 0.9,
      top_k: 40,
      min_p: 0.05,
      max_tokens: 24,
      seed: 1234,
      stop: ['STOP', 'END'],
    })
    const first = await lastReply(page).locator('.content').textContent()

    await lastReply(page).getByRole('button', { name: 'Regenerate' }).click()
    await replyEnd(page)
    expect(chatRequests[1]).toEqual(chatRequests[0])
    // Same seed, same parameters: the same reply (the server guarantees it).
    expect(await lastReply(page).locator('.content').textContent()).toBe(first)
    expect(await page.locator('#messages > li').count()).toBe(2)

    await page.locator('#messages > li.user').getByRole('button', { name: 'Edit' }).click()
    await page.locator('#messages textarea.edit').fill('Hello again')
    await page.locator('#messages textarea.edit').press('Enter')
    await replyEnd(page)
    expect(chatRequests[2]!.messages).toEqual([
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Hello again' },
    ])
    expect(await page.locator('#messages > li').count()).toBe(2)
    await send(page, 'And a second turn?')
    await replyEnd(page)
    expect(chatRequests[3]!.messages).toHaveLength(4)

    const download = page.waitForEvent('download')
    await page.click('#export-chat')
    const exported = JSON.parse(await streamText(await (await download).createReadStream()))
    expect(exported.turns.map((turn: { role: string }) => turn.role)).toEqual(['user', 'assistant', 'user', 'assistant'])
    expect(exported.settings).toMatchObject({ seed: '1234', systemPrompt: 'You are terse.' })
  })

  it('renders Markdown replies with code blocks; raw HTML in them stays text', async () => {
    const page = await openPlayground()
    await waitForModels(page)
    await setSettings(page, { systemPrompt: 'Answer in Markdown.', maxTokens: '200' })
    const markdown =
      '## Llamas\n\nThey are **fluffy** and hum; `llama.cpp` runs them.\n\n```js\nconst answer = 42\n```\n\n' +
      '<script>window.injected = 1</script><b onclick="window.injected = 1">Click</b>\n'
    // The page offers no raw grammar; one added on the way makes the real server generate exactly this Markdown.
    await page.route(
      '**/v1/chat/completions',
      (route) => {
        const grammar = `root ::= ${JSON.stringify(markdown)}`
        return route.continue({ postData: JSON.stringify({ ...route.request().postDataJSON(), response_format: { type: 'grammar', grammar } }) })
      },
      { times: 1 },
    )
    await send(page, 'Tell me about llamas.')
    expect(await replyEnd(page)).toContain('finish: stop')
    const reply = lastReply(page).locator('.markdown')
    expect(await reply.locator('h2').textContent()).toBe('Llamas')
    expect(await reply.locator('strong').textContent()).toBe('fluffy')
    expect(await reply.locator('p code').textContent()).toBe('llama.cpp')
    expect(await reply.locator('pre code').textContent()).toBe('const answer = 42\n')
    // Raw HTML from the model is shown as text, never run.
    expect(await reply.locator('script, b, [onclick]').count()).toBe(0)
    expect(await reply.textContent()).toContain('<b onclick="window.injected = 1">Click</b>')
    expect(await page.evaluate('window.injected')).toBeUndefined()

    await send(page, 'Thanks!')
    await replyEnd(page)
    await page.screenshot({ path: `${ARTIFACTS}ui-chat.png`, fullPage: true })
  })

  it('stops a reply mid-stream with Esc: the request is cancelled on the server and its slot freed', async () => {
    const before = value(await scrape(t.origin), 'gguf_serve_cancellations_total', { model: MODEL })
    const page = await openPlayground()
    await waitForModels(page)
    await setSettings(page, { maxTokens: LONG_REPLY_TOKENS })
    await send(page, 'Go on and on.')
    await expect.poll(() => replyLength(page), EVENTUALLY).toBeGreaterThan(30)
    await expect(page.locator('#stop').isEnabled()).resolves.toBe(true)
    await page.keyboard.press('Escape')
    const end = await replyEnd(page)
    expect(end).toMatch(/^stopped · TTFT \d+ ms/)
    await expect.poll(async () => value(await scrape(t.origin), 'gguf_serve_cancellations_total', { model: MODEL }), EVENTUALLY).toBe(before + 1)
    await expect.poll(async () => value(await scrape(t.origin), 'gguf_serve_slots_busy', { model: MODEL }), EVENTUALLY).toBe(0)
    expect(await page.locator('#stop').isDisabled()).toBe(true)
  })

  it('JSON mode and JSON schema replies parse as JSON', async () => {
    const page = await openPlayground()
    await waitForModels(page)
    // A random-weight model closes a free-form JSON object only sometimes; with this seed it does.
    await setSettings(page, { responseFormat: 'json_object', seed: '1', maxTokens: '300' })
    await send(page, 'Answer in JSON.')
    expect(await replyEnd(page)).toContain('finish: stop')
    expect(chatRequests[0]!.response_format).toEqual({ type: 'json_object' })
    const object = JSON.parse((await lastReply(page).locator('code').textContent()) ?? '')
    expect(typeof object === 'object' && object !== null && !Array.isArray(object)).toBe(true)

    const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false }
    await setSettings(page, { responseFormat: 'json_schema', jsonSchema: JSON.stringify(schema) })
    await send(page, 'Is it ok?')
    expect(await replyEnd(page)).toContain('finish: stop')
    expect(chatRequests[1]!.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'playground', schema, strict: true } })
    expect(typeof JSON.parse((await lastReply(page).locator('code').textContent()) ?? '').ok).toBe('boolean')
  })

  it('the dashboard shows a busy slot and a generation rate during a long reply, and the counters move', async () => {
    const page = await openPlayground()
    await waitForModels(page)
    await setSettings(page, { maxTokens: LONG_REPLY_TOKENS })
    await page.click('#tab-dashboard')
    await expect.poll(() => page.locator('#dash-slots').textContent(), EVENTUALLY).toBe('0 / 2')
    const cancelledBefore = Number((await outcomeCount(page, 'cancelled')) ?? 0)
    await page.click('#tab-chat')
    await send(page, 'A long answer, please.')
    await expect.poll(() => replyLength(page), EVENTUALLY).toBeGreaterThan(0)

    await page.click('#tab-dashboard')
    expect(await page.locator('#view-chat').isVisible()).toBe(false)
    await expect.poll(() => page.locator('#dash-slots').textContent(), EVENTUALLY).toBe('1 / 2')
    await expect.poll(async () => Number(await page.locator('#dash-tps').textContent()), EVENTUALLY).toBeGreaterThan(0)
    await expect.poll(() => page.locator('#dash-models tr').first().textContent(), EVENTUALLY).toContain('1 / 2')
    await expect.poll(() => page.locator('#dash-chart path').count(), EVENTUALLY).toBe(2)
    await page.screenshot({ path: `${ARTIFACTS}ui-dashboard.png`, fullPage: true })

    await page.keyboard.press('Escape')
    await expect.poll(() => page.locator('#dash-slots').textContent(), EVENTUALLY).toBe('0 / 2')
    await expect.poll(() => outcomeCount(page, 'cancelled'), EVENTUALLY).toBe(String(cancelledBefore + 1))
    expect(Number(await page.locator('#dash-generated').textContent())).toBeGreaterThan(0)
    const latency = await page.locator('#dash-latency').textContent()
    expect(latency).toContain('Time to first token')
    expect(latency).toMatch(/\d+(\.\d+)? ms/)
  })

  it('reads well at phone width, in the dark scheme when the system asks for it', async () => {
    const page = await openPlayground(t.origin, { viewport: { width: 390, height: 844 }, colorScheme: 'dark' })
    await waitForModels(page)
    await setSettings(page, { maxTokens: '40' })
    await send(page, 'Hi from a phone')
    await replyEnd(page)
    // Nothing wider than the screen: no sideways scrolling.
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390)
    expect(await page.evaluate('getComputedStyle(document.body).backgroundColor')).toBe('rgb(22, 24, 28)')
    await page.screenshot({ path: `${ARTIFACTS}ui-chat-phone.png`, fullPage: true })
  })

  it('asks for the API key once when the server answers 401, and keeps it for the session', async () => {
    const locked = await startTestServer({ parallel: '1', contextSize: '256', apiKey: ['sk-playground'] })
    try {
      const page = await openPlayground(locked.origin)
      const dialog = page.locator('#key-dialog')
      await dialog.waitFor({ state: 'visible' })
      await page.fill('#key-input', 'sk-playground')
      await page.press('#key-input', 'Enter')
      await waitForModels(page)
      expect(await page.evaluate("sessionStorage.getItem('gguf-serve.api-key')")).toBe('sk-playground')
      await setSettings(page, { maxTokens: '8' })
      await send(page, 'Hello')
      expect(await replyEnd(page)).toContain('finish: length')
      expect(await dialog.isVisible()).toBe(false)
    } finally {
      await locked.close()
    }
  })

  async function outcomeCount(page: Page, outcome: string): Promise<string | null> {
    const row = page.locator('#dash-outcomes tr', { has: page.locator('th', { hasText: outcome }) })
    return (await row.count()) > 0 ? row.locator('td').textContent() : null
  }
})

async function streamText(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer))
  return Buffer.concat(chunks).toString('utf8')
}

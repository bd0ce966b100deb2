import { buildChatRequest, type ChatMessage } from './chat-request.js'
import { ConversationStore, exportConversation, newConversation, type Conversation, type Turn } from './conversation-store.js'
import { byId, h } from './dom.js'
import { formatRate } from './format.js'
import { renderMarkdown } from './markdown.js'
import type { SettingsPanel } from './settings-panel.js'
import { streamChat, type ReplyStats } from './stream-chat.js'

/**
 * The chat: the conversation list, the messages of the open one, the composer, and one generation at a
 * time (Stop or Esc aborts it). Replies are rendered as Markdown once per animation frame while they stream.
 */
export class ChatView {
  private readonly store = new ConversationStore(localStorage)
  private conversations: Conversation[]
  private current: Conversation
  private generation: AbortController | null = null

  private readonly messages = byId<HTMLOListElement>('messages')
  private readonly prompt = byId<HTMLTextAreaElement>('prompt')
  private readonly send = byId<HTMLButtonElement>('send')
  private readonly stop = byId<HTMLButtonElement>('stop')
  private readonly status = byId('chat-status')

  constructor(
    private readonly settings: SettingsPanel,
    private readonly model: () => string,
  ) {
    this.conversations = this.store.load()
    this.current = this.conversations[0] ?? this.startConversation()
    byId('composer').addEventListener('submit', (event) => {
      event.preventDefault()
      void this.sendPrompt()
    })
    this.prompt.addEventListener('keydown', (event) => {
      // isComposing: Enter that confirms an IME composition is not a send.
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault()
        void this.sendPrompt()
      }
    })
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && this.generation) this.generation.abort()
    })
    this.stop.addEventListener('click', () => this.generation?.abort())
    byId('new-chat').addEventListener('click', () => {
      if (this.generation) return
      // An untouched conversation is already a new one.
      if (this.current.turns.length > 0) this.current = this.startConversation()
      this.render()
      this.prompt.focus()
    })
    byId('export-chat').addEventListener('click', () => this.download())
    this.render()
  }

  private startConversation(): Conversation {
    const conversation = newConversation(this.model())
    this.conversations.unshift(conversation)
    return conversation
  }

  private async sendPrompt(): Promise<void> {
    const text = this.prompt.value.trim()
    if (!text || this.generation) return
    this.prompt.value = ''
    this.current.turns.push({ role: 'user', content: text })
    if (this.current.title === 'New chat') this.current.title = text.slice(0, 60)
    await this.generate()
  }

  /** Asks for the next assistant turn of the open conversation and streams it in. */
  private async generate(): Promise<void> {
    const conversation = this.current
    const settings = this.settings.read()
    const turn: Turn = { role: 'assistant', content: '', json: settings.responseFormat !== 'text' }
    let body: Record<string, unknown>
    try {
      body = buildChatRequest(this.model(), settings, history(conversation.turns))
    } catch (error) {
      this.showStatus((error as Error).message)
      return
    }
    conversation.turns.push(turn)
    conversation.model = this.model()
    conversation.settings = settings
    const controller = (this.generation = new AbortController())
    this.setBusy(true)
    this.render()
    const item = this.messages.lastElementChild as HTMLElement
    let frame = 0
    try {
      turn.stats = await streamChat(body, controller.signal, ({ content, reasoning }) => {
        turn.content = content
        turn.reasoning = reasoning
        frame ||= requestAnimationFrame(() => {
          frame = 0
          this.fillContent(item, turn)
        })
      })
      turn.stopped = controller.signal.aborted
    } catch (error) {
      if (controller.signal.aborted) turn.stopped = true
      else turn.error = (error as Error).message
    } finally {
      cancelAnimationFrame(frame)
      this.generation = null
      conversation.updatedAt = Date.now()
      this.store.save(this.conversations)
      this.setBusy(false)
      this.render()
    }
  }

  private setBusy(busy: boolean): void {
    this.send.disabled = busy
    this.stop.disabled = !busy
    this.messages.setAttribute('aria-busy', String(busy))
    this.showStatus(busy ? 'Generating… (Esc stops)' : '')
  }

  private showStatus(text: string): void {
    this.status.textContent = text
  }

  private render(): void {
    this.renderConversationList()
    this.messages.replaceChildren(...this.current.turns.map((turn, index) => this.renderTurn(turn, index)))
    this.messages.lastElementChild?.scrollIntoView({ block: 'end' })
  }

  private renderConversationList(): void {
    const list = byId<HTMLUListElement>('conversation-list')
    list.replaceChildren(
      ...this.conversations.map((conversation) => {
        const open = h('button', { type: 'button', class: 'open' }, conversation.title)
        if (conversation === this.current) open.setAttribute('aria-current', 'true')
        open.addEventListener('click', () => {
          if (this.generation) return
          this.current = conversation
          this.render()
        })
        const remove = h('button', { type: 'button', class: 'icon', 'aria-label': `Delete "${conversation.title}"` }, '×')
        remove.addEventListener('click', () => this.remove(conversation))
        return h('li', {}, open, remove)
      }),
    )
  }

  private remove(conversation: Conversation): void {
    if (this.generation && conversation === this.current) return
    this.conversations = this.conversations.filter((c) => c !== conversation)
    if (conversation === this.current) this.current = this.conversations[0] ?? this.startConversation()
    this.store.save(this.conversations)
    this.render()
  }

  private renderTurn(turn: Turn, index: number): HTMLLIElement {
    const item = h('li', { class: `turn ${turn.role}` }, h('div', { class: 'role' }, turn.role === 'user' ? 'You' : 'Assistant'))
    item.append(h('div', { class: 'content' }))
    this.fillContent(item, turn)
    if (turn.role === 'assistant') item.append(h('div', { class: 'stats' }, describeReply(turn)))
    const actions = h('div', { class: 'actions' })
    const isLast = index === this.current.turns.length - 1
    if (turn.role === 'user') actions.append(this.button('Edit', () => this.edit(item, index)))
    if (turn.role === 'assistant' && isLast && !this.generation) actions.append(this.button('Regenerate', () => this.regenerate()))
    if (turn.role === 'assistant' && turn.content) actions.append(this.button('Copy', () => void navigator.clipboard?.writeText(turn.content)))
    item.append(actions)
    return item
  }

  private fillContent(item: HTMLElement, turn: Turn): void {
    const content = item.querySelector('.content')!
    if (turn.role === 'user') {
      content.textContent = turn.content
      return
    }
    const parts: Node[] = []
    if (turn.reasoning) parts.push(h('details', { class: 'reasoning' }, h('summary', {}, 'Thinking'), h('p', {}, turn.reasoning)))
    const answer = h('div', { class: 'markdown' })
    if (turn.json) answer.append(h('pre', {}, h('code', { class: 'language-json' }, turn.content)))
    else answer.innerHTML = renderMarkdown(turn.content)
    parts.push(answer)
    content.replaceChildren(...parts)
  }

  private button(label: string, onClick: () => void): HTMLButtonElement {
    const button = h('button', { type: 'button' }, label)
    button.addEventListener('click', onClick)
    return button
  }

  /** Replaces the message with an editor; sending it drops everything after it and asks again. */
  private edit(item: HTMLElement, index: number): void {
    if (this.generation) return
    const editor = h('textarea', { class: 'edit', rows: '3', 'aria-label': 'Edit message' })
    editor.value = this.current.turns[index]!.content
    const resend = this.button('Send', () => {
      const text = editor.value.trim()
      if (!text) return
      this.current.turns.splice(index, Infinity, { role: 'user', content: text })
      void this.generate()
    })
    const cancel = this.button('Cancel', () => this.render())
    editor.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault()
        resend.click()
      } else if (event.key === 'Escape') cancel.click()
    })
    item.querySelector('.content')!.replaceChildren(editor)
    item.querySelector('.actions')!.replaceChildren(resend, cancel)
    editor.focus()
  }

  private regenerate(): void {
    if (this.generation || this.current.turns.at(-1)?.role !== 'assistant') return
    this.current.turns.pop()
    void this.generate()
  }

  private download(): void {
    const url = URL.createObjectURL(exportConversation(this.current))
    const link = h('a', { href: url, download: `conversation-${this.current.id}.json` })
    link.click()
    setTimeout(() => URL.revokeObjectURL(url), 0)
  }
}

/** The messages sent for the next reply: what was said, without failed or stopped-empty replies. */
function history(turns: readonly Turn[]): ChatMessage[] {
  return turns.filter((turn) => turn.role === 'user' || turn.content !== '').map(({ role, content }) => ({ role, content }))
}

function describeReply(turn: Turn): string {
  if (turn.error) return `Error: ${turn.error}`
  const stats: ReplyStats | undefined = turn.stats
  const parts: string[] = []
  if (turn.stopped) parts.push('stopped')
  if (stats?.promptTokens != null) {
    parts.push(`${stats.promptTokens} prompt tokens (${stats.cachedTokens ?? 0} cached) + ${stats.completionTokens} completion`)
  }
  if (stats?.ttftMs != null) parts.push(`TTFT ${Math.round(stats.ttftMs)} ms`)
  if (stats?.tokensPerSecond != null) parts.push(`${formatRate(stats.tokensPerSecond)} tokens/s`)
  if (stats?.finishReason) parts.push(`finish: ${stats.finishReason}`)
  return parts.join(' · ')
}

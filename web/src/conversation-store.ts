import type { ChatSettings } from './chat-request.js'
import type { ReplyStats } from './stream-chat.js'

export interface Turn {
  role: 'user' | 'assistant'
  content: string
  reasoning?: string
  stats?: ReplyStats
  /** The reply was stopped by the user before it finished. */
  stopped?: boolean
  error?: string
  /** The reply was asked for as JSON (shown as a code block). */
  json?: boolean
}

export interface Conversation {
  id: string
  title: string
  updatedAt: number
  model: string
  /** The settings of its last request, system prompt included (what an export needs to replay it). */
  settings: ChatSettings | null
  turns: Turn[]
}

const CONVERSATIONS_KEY = 'gguf-serve.conversations'

/** Conversations in local storage, newest first. */
export class ConversationStore {
  constructor(private readonly storage: Pick<Storage, 'getItem' | 'setItem'>) {}

  load(): Conversation[] {
    try {
      const stored = JSON.parse(this.storage.getItem(CONVERSATIONS_KEY) ?? '[]') as unknown
      return Array.isArray(stored) ? (stored as Conversation[]) : []
    } catch {
      // Unreadable storage (edited by hand, older format): start afresh rather than fail to load.
      return []
    }
  }

  save(conversations: readonly Conversation[]): void {
    const sorted = [...conversations].sort((a, b) => b.updatedAt - a.updatedAt)
    this.storage.setItem(CONVERSATIONS_KEY, JSON.stringify(sorted))
  }
}

export function newConversation(model: string): Conversation {
  // Not crypto.randomUUID(): it exists only in secure contexts, and the page is often served over plain http.
  const id = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`
  return { id, title: 'New chat', updatedAt: Date.now(), model, settings: null, turns: [] }
}

/** A downloadable JSON file of one conversation. */
export function exportConversation(conversation: Conversation): Blob {
  return new Blob([JSON.stringify(conversation, null, 2)], { type: 'application/json' })
}

import { byId } from './dom.js'

/**
 * The two secrets a server may ask for: API keys open the API; /metrics, when it has a token of its own,
 * opens only with that token (the API keys do not).
 */
export type Credential = 'api-key' | 'metrics-token'

const PROMPTS: Record<Credential, { first: string; refused: string }> = {
  'api-key': { first: 'This server needs an API key:', refused: 'That API key was refused. API key:' },
  'metrics-token': { first: '/metrics needs its token (server.metricsToken):', refused: 'That metrics token was refused. Token:' },
}

/** One question per credential at a time: parallel requests that all got 401 wait for the same answer. */
const pending = new Map<Credential, Promise<string | null>>()

/**
 * fetch() against this server with the credential, if one was given. A 401 asks for it (once for all
 * requests waiting), keeps it in session storage and retries; cancelling returns the 401.
 */
export async function apiFetch(path: string, init: RequestInit = {}, credential: Credential = 'api-key'): Promise<Response> {
  const storageKey = `gguf-serve.${credential}`
  for (;;) {
    const secret = sessionStorage.getItem(storageKey)
    const headers = new Headers(init.headers)
    if (secret) headers.set('authorization', `Bearer ${secret}`)
    const response = await fetch(path, { ...init, headers })
    if (response.status !== 401) return response
    let answer = pending.get(credential)
    if (!answer) {
      answer = askFor(secret ? PROMPTS[credential].refused : PROMPTS[credential].first).finally(() => pending.delete(credential))
      pending.set(credential, answer)
    }
    const given = await answer
    if (given === null) return response
    sessionStorage.setItem(storageKey, given)
  }
}

/** The error message of an OpenAI-shaped error body, or the status line. */
export async function errorMessage(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { error?: { message?: string } }
    if (body.error?.message) return body.error.message
  } catch {
    // Not JSON: the status says enough.
  }
  return `${response.status} ${response.statusText}`
}

/** Asks in the page's dialog; dialogs asked for meanwhile (the other credential) wait their turn. */
let dialogFree: Promise<unknown> = Promise.resolve()

function askFor(prompt: string): Promise<string | null> {
  const asked = dialogFree.then(
    () =>
      new Promise<string | null>((resolve) => {
        const dialog = byId<HTMLDialogElement>('key-dialog')
        const input = byId<HTMLInputElement>('key-input')
        byId('key-prompt').textContent = prompt
        input.value = ''
        dialog.returnValue = ''
        dialog.addEventListener(
          'close',
          () => resolve(dialog.returnValue === 'ok' && input.value.trim() ? input.value.trim() : null),
          { once: true },
        )
        dialog.showModal()
      }),
  )
  dialogFree = asked
  return asked
}

/** The page's elements by id; a missing one is a bug in index.html, so it throws. */
export function byId<T extends Element = HTMLElement>(id: string): T {
  const element = document.querySelector<T>(`#${id}`)
  if (!element) throw new Error(`#${id} is missing from index.html`)
  return element
}

/** A new element with attributes and children (strings become text, never HTML). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value)
  element.append(...children)
  return element
}

import DOMPurify from 'dompurify'
import { Marked } from 'marked'

/**
 * HTML that a model writes is shown as the text it is, not rendered: a reply is Markdown, and raw HTML
 * in it is more often an example than formatting. It also keeps event handlers out of the string
 * DOMPurify parses (Chrome reports a CSP violation for a handler even in an inert document).
 */
const markdown = new Marked({
  gfm: true,
  breaks: true,
  renderer: {
    html: ({ text }) => escapeHtml(text),
  },
})

/** A model's Markdown as safe HTML; DOMPurify still checks what marked produced. */
export function renderMarkdown(text: string): string {
  return DOMPurify.sanitize(markdown.parse(text, { async: false }))
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

import './style.css'
import { ChatView } from './chat-view.js'
import { DashboardView } from './dashboard-view.js'
import { byId } from './dom.js'
import { ModelPicker } from './model-picker.js'
import { SettingsPanel } from './settings-panel.js'

type ViewName = 'chat' | 'dashboard'

const picker = new ModelPicker()
new ChatView(new SettingsPanel(), () => picker.value)
const dashboard = new DashboardView()

/** Shows one tab's panel; the dashboard polls only while shown. The URL hash keeps the tab across reloads. */
function show(view: ViewName): void {
  for (const name of ['chat', 'dashboard'] as const) {
    const selected = name === view
    const tab = byId(`tab-${name}`)
    tab.setAttribute('aria-selected', String(selected))
    tab.tabIndex = selected ? 0 : -1
    byId(`view-${name}`).hidden = !selected
  }
  if (view === 'dashboard') dashboard.start()
  else dashboard.stop()
  history.replaceState(null, '', view === 'chat' ? location.pathname : '#dashboard')
}

for (const name of ['chat', 'dashboard'] as const) {
  const tab = byId(`tab-${name}`)
  tab.addEventListener('click', () => show(name))
  // Arrow keys move between tabs, as the WAI-ARIA tabs pattern expects.
  tab.addEventListener('keydown', (event) => {
    if (event.key !== 'ArrowLeft' && event.key !== 'ArrowRight') return
    const other = name === 'chat' ? 'dashboard' : 'chat'
    show(other)
    byId(`tab-${other}`).focus()
  })
}
show(location.hash === '#dashboard' ? 'dashboard' : 'chat')
void picker.load().then((problem) => {
  if (problem) byId('chat-status').textContent = problem
})

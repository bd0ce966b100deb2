import type { FastifyInstance } from 'fastify'

export interface RouteEntry {
  method: string
  /** The path with parameters and wildcards filled in (`:model` → tiny-chat, `*` → x). */
  path: string
}

/** Every route the app serves, read from Fastify's own route tree (so a route added later is walked too). */
export function appRoutes(app: FastifyInstance): RouteEntry[] {
  const routes: RouteEntry[] = []
  const stack: string[] = []
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([│ ]*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line)
    if (!match) continue
    const depth = match[1]!.length / 4
    stack.length = depth
    stack.push(match[2]!)
    if (!match[3]) continue
    const path = stack.join('').replace(/:[^/]+/g, 'tiny-chat').replace(/\*$/, 'x')
    for (const method of match[3].split(', ')) if (method !== 'HEAD') routes.push({ method, path })
  }
  return routes
}

/**
 * The spellings of one path that a router may treat as the same route (or as another one): a percent-encoded
 * letter, doubled slashes, dot segments, a fragment, a query, a trailing slash. Sent as-is on a raw socket.
 */
export function pathVariants(path: string): string[] {
  const encodeFirstLetter = (p: string) => p.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`)
  const segments = path.split('/').filter(Boolean)
  const last = segments.at(-1) ?? ''
  return [
    path,
    encodeFirstLetter(path),
    `/${segments.map((s) => encodeFirstLetter(s)).join('/')}`,
    path.replace(/[a-z]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
    `/${path}`,
    path.replaceAll('/', '//'),
    `/.${path}`,
    `/x/..${path}`,
    `${path}/.`,
    `${path}/../${last}`,
    `${path}#x`,
    `${path}?x=1`,
    `${path}?x=1#y`,
    `${path}/`,
    `${path};x`,
    path.toUpperCase(),
  ]
}

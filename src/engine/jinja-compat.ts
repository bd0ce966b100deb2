import { Environment, Interpreter, Template } from '@huggingface/jinja'

/**
 * `@huggingface/jinja` (0.5.13 too) made to render like Python Jinja2 as transformers runs it, where
 * real chat templates (llama.cpp's corpus, test/chat-template-fidelity.test.ts) showed it differs.
 * The library has no extension points, so this file patches its Interpreter's prototype once, each
 * patch falling through to the original for everything else:
 *
 * - `for a, b in [(…), (…)]`: tuples failed to unpack ("Cannot unpack non-iterable type: TupleValue",
 *   Functionary v3.2) and were not `iterable`: the library tests `type === 'ArrayValue'` for any sequence.
 * - dict literals with number keys (`{0: 0, 512: 128}`, Seed-OSS), with `dictsort`, `items()` and `d[512]`.
 * - `selectattr`/`rejectattr`/`select`/`reject`/`map` on none or undefined give an empty sequence, as
 *   Jinja2's (`if value:`) do (Functionary v3.1 without tools); undefined iterates as empty, its
 *   `length` is 0 and string filters see '' (Hermes 2 Pro, Command R+ and Apriel without tools).
 * - `{{ x }}` prints Python's str(x): True, False, None, containers as repr.
 * - `'…' + mapping` concatenates the mapping's JSON, not "[object Map]" (Functionary v3.2).
 * - `list.append(x)` and `list.pop(i)` (Kimi K2 queues tool-call ids): transformers' immutable sandbox refuses them, llama.cpp's
 *   minja allows it, and so do we, so Kimi K2's tool history renders.
 * - `min`/`max` filters (MiniCPM5), `'…{}…'.format(x)` (Hunyuan), and `string` of a dict or list is
 *   Python's repr (Apriel), not JSON.
 *
 * Upstream's Interpreter is the only renderer; nothing else here knows its internals.
 */

// The library exports its Interpreter but not its value classes: take them from values it makes.
const probe = new Environment()
for (const [name, value] of Object.entries({ s: '', i: 0, f: 0.5, b: true, n: null, a: [], o: {}, fn: () => null })) probe.set(name, value)
const classOf = (name: string): RuntimeClass => (probe.lookupVariable(name) as object).constructor as RuntimeClass
const StringValue = classOf('s')
const IntegerValue = classOf('i')
const FloatValue = classOf('f')
const BooleanValue = classOf('b')
const NullValue = classOf('n')
const ArrayValue = classOf('a')
const ObjectValue = classOf('o')
const FunctionValue = classOf('fn')
const UndefinedValue = (probe.lookupVariable('not-set') as object).constructor as RuntimeClass

interface Value {
  type: string
  value: unknown
}
type RuntimeClass = new (value?: unknown) => Value
interface Node {
  type: string
  value?: unknown
  callee?: Node
  computed?: boolean
  object?: Node
  property?: Node
}
/** `instanceof` without narrowing: every value class has the one `Value` type here. */
function is(value: unknown, kind: RuntimeClass): boolean {
  return value instanceof kind
}

/** The library's ObjectValue, as much of it as the subclass below uses. */
declare abstract class ObjectValueBase {
  constructor(value: Map<string, Value>)
  type: string
  value: unknown
  get builtins(): Map<string, Value>
}

type Evaluate = (node: Node | undefined, env: Environment) => Value

/** A node standing for a value already evaluated, so a patched method can hand it to the original one. */
const PRECOMPUTED = 'gguf-serve:Precomputed'

/** A dict literal with number keys: stored under their decimal text, iterated with the numbers. */
class NumberKeyedObject extends (ObjectValue as unknown as typeof ObjectValueBase) {
  constructor(
    entries: Map<string, Value>,
    private readonly keyValues: Map<string, Value>,
  ) {
    super(entries)
  }

  items(): Value {
    return new ArrayValue([...(this.value as Map<string, Value>)].map(([k, v]) => new ArrayValue([this.keyValues.get(k)!, v])))
  }

  keys(): Value {
    return new ArrayValue([...this.keyValues.values()])
  }

  override get builtins(): Map<string, Value> {
    const builtins = super.builtins
    builtins.set('dictsort', new FunctionValue(() => sortedByKey(this.items())))
    return builtins
  }
}

function sortedByKey(items: Value): Value {
  const pairs = [...(items.value as Value[])]
  pairs.sort((a, b) => compare((a.value as Value[])[0]!, (b.value as Value[])[0]!))
  return new ArrayValue(pairs)
}

function compare(a: Value, b: Value): number {
  const x = a.value as number | string
  const y = b.value as number | string
  if (typeof x === 'string' && typeof y === 'string') return x.toLowerCase() < y.toLowerCase() ? -1 : x.toLowerCase() > y.toLowerCase() ? 1 : 0
  return x < y ? -1 : x > y ? 1 : 0
}

/** Python's `repr` of a value, which `str()` (the `string` filter) gives for containers. */
function pyRepr(v: Value): string {
  if (is(v, StringValue)) return pyStringRepr(v.value as string)
  if (is(v, ArrayValue)) return `[${(v.value as Value[]).map(pyRepr).join(', ')}]`
  if (is(v, ObjectValue)) return `{${[...(v.value as Map<string, Value>)].map(([k, x]) => `${pyStringRepr(k)}: ${pyRepr(x)}`).join(', ')}}`
  return pyStr(v)
}

function pyStringRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'"
  const escaped = s.replace(/[\\\n\r\t]|[\x00-\x1f\x7f]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  )
  return quote + (quote === "'" ? escaped.replaceAll("'", "\\'") : escaped) + quote
}

/** Python's `str()` of a scalar. */
function pyStr(v: Value): string {
  if (is(v, BooleanValue)) return v.value ? 'True' : 'False'
  if (is(v, NullValue)) return 'None'
  if (is(v, UndefinedValue)) return ''
  if (is(v, ArrayValue) || is(v, ObjectValue)) return pyRepr(v)
  if (is(v, FloatValue) && Number.isInteger(v.value)) return `${v.value as number}.0`
  return String(v.value)
}

/** `'a{}b{0}c{name}'.format(…)` without format specs, as Python's str.format. */
function pyFormat(template: string, args: Value[]): Value {
  const positional = args.filter((a) => !is(a, ObjectValue))
  const named = (args.find((a) => is(a, ObjectValue))?.value as Map<string, Value> | undefined) ?? new Map<string, Value>()
  let next = 0
  const text = template.replace(/\{\{|\}\}|\{([^{}]*)\}/g, (all, field: string | undefined) => {
    if (all === '{{') return '{'
    if (all === '}}') return '}'
    const arg = field === '' ? positional[next++] : /^\d+$/.test(field!) ? positional[Number(field)] : named.get(field!)
    if (!arg) throw new Error(`format(): no value for {${field}}`)
    return pyStr(arg)
  })
  return new StringValue(text)
}

const STRING_FILTERS = new Set(['trim', 'upper', 'lower', 'title', 'capitalize', 'replace', 'string'])
const SELECTING_FILTERS = new Set(['selectattr', 'rejectattr', 'select', 'reject', 'map'])

const interpreter = Interpreter.prototype as unknown as Record<string, (...args: never[]) => Value>
const originalEvaluate = interpreter.evaluate as unknown as Evaluate
const originalApplyFilter = interpreter.applyFilter as unknown as (this: unknown, operand: Value, filter: Node, env: Environment) => Value
const originalBinary = interpreter.evaluateBinaryExpression as unknown as (this: unknown, node: Node, env: Environment) => Value
const originalFor = interpreter.evaluateFor as unknown as (this: unknown, node: Node, env: Environment) => Value
const originalMember = interpreter.evaluateMemberExpression as unknown as (this: unknown, expr: Node, env: Environment) => Value

interpreter.evaluate = function (this: { evaluate: Evaluate }, node: Node | undefined, env: Environment): Value {
  if (node?.type === PRECOMPUTED) return node.value as Value
  if (node?.type === 'ObjectLiteral') return evaluateObjectLiteral.call(this, node, env)
  const value = originalEvaluate.call(this, node, env)
  // Tuples are sequences wherever the library checks `type === 'ArrayValue'` (unpacking, `is iterable`).
  if (node?.type === 'TupleLiteral') value.type = 'ArrayValue'
  return value
} as never

function evaluateObjectLiteral(this: { evaluate: Evaluate }, node: Node, env: Environment): Value {
  const pairs = [...(node.value as Iterable<[Node, Node]>)].map(([k, v]) => [this.evaluate(k, env), v] as const)
  if (pairs.every(([k]) => is(k, StringValue))) return originalEvaluate.call(this, node, env)
  const entries = new Map<string, Value>()
  const keyValues = new Map<string, Value>()
  for (const [key, valueNode] of pairs) {
    if (!(is(key, StringValue) || is(key, IntegerValue) || is(key, FloatValue))) throw new Error(`Object keys must be strings or numbers: got ${key.type}`)
    entries.set(String(key.value), this.evaluate(valueNode, env))
    keyValues.set(String(key.value), key)
  }
  return new NumberKeyedObject(entries, keyValues)
}

/**
 * `'…' + mapping`: the library printed "[object Map]". Python raises (str + dict); we print the JSON the
 * template meant (Functionary v3.2 adds tool-call arguments it expects as a JSON string).
 */
interpreter.evaluateBinaryExpression = function (this: { evaluate: Evaluate }, node: Node & { operator: { value: string }; left: Node; right: Node }, env: Environment): Value {
  if (node.operator.value !== '+') return originalBinary.call(this, node, env)
  const left = this.evaluate(node.left, env)
  const right = this.evaluate(node.right, env)
  const container = (v: Value) => is(v, ArrayValue) || is(v, ObjectValue)
  if ((is(left, StringValue) && container(right)) || (container(left) && is(right, StringValue))) {
    const text = (v: Value) => (is(v, StringValue) ? (v.value as string) : String(v))
    return new StringValue(text(left) + text(right))
  }
  return originalBinary.call(this, { ...node, left: { type: PRECOMPUTED, value: left }, right: { type: PRECOMPUTED, value: right } }, env)
} as never

/** Statements, whose results are not printed values (the library returns none for most of them). */
const STATEMENTS = new Set(['Program', 'Set', 'If', 'For', 'Macro', 'CallStatement', 'FilterStatement', 'Break', 'Continue', 'Comment'])

/** `{{ value }}` prints Python's str(): True / False / None, containers as repr (the library printed true, '', JSON). */
interpreter.evaluateBlock = function (this: { evaluate: Evaluate }, statements: Node[], env: Environment): Value {
  let out = ''
  for (const statement of statements) {
    const value = this.evaluate(statement, env)
    if (!STATEMENTS.has(statement.type) && (is(value, BooleanValue) || is(value, NullValue) || is(value, ArrayValue) || is(value, ObjectValue))) out += pyStr(value)
    else if (!is(value, NullValue) && !is(value, UndefinedValue)) out += String(value)
  }
  return new StringValue(out)
} as never

/** Jinja2's Undefined iterates as an empty sequence (`for t in tools` without tools). */
interpreter.evaluateFor = function (this: { evaluate: Evaluate }, node: Node & { iterable: Node & { lhs?: Node } }, env: Environment): Value {
  const select = node.iterable.type === 'SelectExpression'
  const iterable = this.evaluate(select ? node.iterable.lhs : node.iterable, env)
  const value = is(iterable, UndefinedValue) ? new ArrayValue([]) : iterable
  const precomputed = { type: PRECOMPUTED, value }
  return originalFor.call(this, { ...node, iterable: select ? { ...node.iterable, lhs: precomputed } : precomputed }, env)
} as never

interpreter.evaluateMemberExpression = function (this: { evaluate: Evaluate }, expr: Node, env: Environment): Value {
  const object = this.evaluate(expr.object, env)
  if (expr.computed && object instanceof NumberKeyedObject) {
    const key = this.evaluate(expr.property, env)
    return (object.value as Map<string, Value>).get(String(key.value)) ?? new UndefinedValue()
  }
  if (is(object, StringValue) && !expr.computed && expr.property?.value === 'format') {
    return new FunctionValue((args: Value[]) => pyFormat(object.value as string, args))
  }
  if (is(object, ArrayValue) && !expr.computed && (expr.property?.value === 'append' || expr.property?.value === 'pop')) {
    const items = object.value as Value[]
    if (expr.property.value === 'append') {
      return new FunctionValue((args: Value[]) => {
        items.push(args[0] ?? new NullValue())
        return new NullValue()
      })
    }
    return new FunctionValue((args: Value[]) => {
      const at = args[0] ? (args[0].value as number) : -1
      const index = at < 0 ? items.length + at : at
      if (index < 0 || index >= items.length) throw new Error('pop index out of range')
      return items.splice(index, 1)[0]!
    })
  }
  return originalMember.call(this, { ...expr, object: { type: PRECOMPUTED, value: object } }, env)
} as never

interpreter.applyFilter = function (this: unknown, operand: Value, filter: Node, env: Environment): Value {
  const name = (filter.type === 'CallExpression' ? filter.callee?.value : filter.value) as string | undefined
  if (name && SELECTING_FILTERS.has(name) && (is(operand, NullValue) || is(operand, UndefinedValue))) return new ArrayValue([])
  if ((name === 'length' || name === 'list') && is(operand, UndefinedValue)) return name === 'length' ? new IntegerValue(0) : new ArrayValue([])
  if (name && STRING_FILTERS.has(name) && is(operand, UndefinedValue)) return originalApplyFilter.call(this, new StringValue(''), filter, env)
  if (name === 'string' && (is(operand, ArrayValue) || is(operand, ObjectValue))) return new StringValue(pyRepr(operand))
  if ((name === 'min' || name === 'max') && is(operand, ArrayValue) && filter.type === 'Identifier') {
    const items = operand.value as Value[]
    if (items.length === 0) return new UndefinedValue()
    return items.reduce((best, x) => ((name === 'min' ? compare(x, best) < 0 : compare(x, best) > 0) ? x : best))
  }
  return originalApplyFilter.call(this, operand, filter, env)
} as never

export type JinjaTemplate = Template

/** Parses a template (throws on a syntax error); render it with `render(variables)`. */
export function compileJinja(source: string): JinjaTemplate {
  return new Template(source)
}

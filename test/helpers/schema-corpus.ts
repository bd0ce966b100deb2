import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { z } from 'zod'

/** One schema of the corpus: where it comes from and (llama.cpp's cases) whether llama.cpp's converter accepts it. */
export interface CorpusCase {
  source: 'zod' | 'pydantic' | 'openai' | 'llama.cpp'
  name: string
  schema: unknown
  llamaAccepts?: boolean
}

/** What zod 4's `z.toJSONSchema` emits for its common types, generated with the installed zod. */
export function zodCases(): CorpusCase[] {
  const Category: z.ZodType = z.object({ name: z.string(), get subcategories() { return z.array(Category) } })
  const types: Record<string, z.ZodType> = {
    string: z.string(), 'string min': z.string().min(1), 'string max': z.string().max(5), 'string length': z.string().length(3),
    'string min max': z.string().min(2).max(8), 'string regex': z.string().regex(/^[a-z]+$/), 'string regex min max': z.string().regex(/^[a-z]+$/).min(2).max(5),
    'string startsWith': z.string().startsWith('ab'), 'string endsWith': z.string().endsWith('yz'), 'string includes': z.string().includes('mid'),
    'string lowercase': z.string().lowercase(), 'string uppercase': z.string().uppercase(),
    email: z.email(), url: z.url(), uuid: z.uuid(), guid: z.guid(), 'iso datetime': z.iso.datetime(), 'iso date': z.iso.date(), 'iso time': z.iso.time(),
    'iso duration': z.iso.duration(), ipv4: z.ipv4(), ipv6: z.ipv6(), hostname: z.hostname(), cuid: z.cuid(), cuid2: z.cuid2(), ulid: z.ulid(), nanoid: z.nanoid(),
    base64: z.base64(), base64url: z.base64url(), e164: z.e164(), jwt: z.jwt(), cidrv4: z.cidrv4(), hex: z.hex(), emoji: z.emoji(),
    number: z.number(), int: z.int(), 'number int': z.number().int(), int32: z.int32(), uint32: z.uint32(), float32: z.float32(), float64: z.float64(),
    positive: z.number().positive(), negative: z.number().negative(), nonnegative: z.number().nonnegative(), nonpositive: z.number().nonpositive(),
    'gt lt': z.number().gt(1.5).lt(9.25), 'gte lte': z.number().gte(-3).lte(3), 'int gt lt': z.int().gt(0).lt(100), multipleOf: z.number().multipleOf(5),
    boolean: z.boolean(), null: z.null(), any: z.any(), unknown: z.unknown(),
    enum: z.enum(['red', 'green', 'blue']), 'literal string': z.literal('x'), 'literal number': z.literal(3), 'literal true': z.literal(true), 'literal many': z.literal(['a', 'b']),
    union: z.union([z.string(), z.number()]),
    'discriminated union': z.discriminatedUnion('kind', [z.object({ kind: z.literal('a'), x: z.string() }), z.object({ kind: z.literal('b'), y: z.number() })]),
    'optional nullable default': z.object({ a: z.string().optional(), b: z.string().nullable(), c: z.int().nullable().optional(), d: z.boolean().default(false) }),
    array: z.array(z.string()), 'array min max': z.array(z.int()).min(1).max(3), 'array length': z.array(z.boolean()).length(2), nonempty: z.array(z.number()).nonempty(),
    tuple: z.tuple([z.string(), z.int()]), 'tuple rest': z.tuple([z.string()], z.number()),
    record: z.record(z.string(), z.number()), 'record enum keys': z.record(z.enum(['a', 'b']), z.int()), 'record regex keys': z.record(z.string().regex(/^k_/), z.boolean()),
    'object catchall': z.object({ a: z.string() }).catchall(z.number()), 'strict object': z.strictObject({ a: z.string() }), 'loose object': z.looseObject({ a: z.string() }),
    intersection: z.intersection(z.object({ a: z.string() }), z.object({ b: z.number() })), 'recursive lazy': Category,
    'nested everything': z.object({ id: z.uuid(), tags: z.array(z.enum(['x', 'y'])), meta: z.record(z.string(), z.string()), when: z.iso.datetime().optional(), n: z.int().min(0) }),
  }
  return Object.entries(types).map(([name, type]) => ({ source: 'zod', name, schema: z.toJSONSchema(type) }))
}

/** Pydantic 2's `model_json_schema()` output for the same kinds, written from its documented shapes. */
export function pydanticCases(): CorpusCase[] {
  const address = { properties: { street: { title: 'Street', type: 'string' }, city: { title: 'City', type: 'string' } }, required: ['street', 'city'], title: 'Address', type: 'object' }
  const color = { enum: ['red', 'green', 'blue'], title: 'Color', type: 'string' }
  const cases: Record<string, unknown> = {
    'scalars with titles': { properties: { name: { title: 'Name', type: 'string' }, age: { title: 'Age', type: 'integer' }, score: { title: 'Score', type: 'number' }, ok: { title: 'Ok', type: 'boolean' } }, required: ['name', 'age', 'score', 'ok'], title: 'User', type: 'object' },
    'Optional[int] = None': { properties: { n: { anyOf: [{ type: 'integer' }, { type: 'null' }], default: null, title: 'N' } }, title: 'M', type: 'object' },
    'Enum in $defs': { $defs: { Color: color }, properties: { color: { $ref: '#/$defs/Color' } }, required: ['color'], title: 'M', type: 'object' },
    'nested model (allOf wrapper with description)': { $defs: { Address: address }, properties: { home: { allOf: [{ $ref: '#/$defs/Address' }], description: 'Where they live' } }, required: ['home'], title: 'Person', type: 'object' },
    'nested model ($ref with description)': { $defs: { Address: address }, properties: { home: { $ref: '#/$defs/Address', description: 'Where they live' } }, required: ['home'], title: 'Person', type: 'object' },
    'Optional[Model]': { $defs: { Address: address }, properties: { work: { anyOf: [{ $ref: '#/$defs/Address' }, { type: 'null' }], default: null } }, title: 'Person', type: 'object' },
    'Literal of several': { properties: { mode: { enum: ['fast', 'slow'], title: 'Mode', type: 'string' } }, required: ['mode'], title: 'M', type: 'object' },
    'Literal of one': { properties: { kind: { const: 'cat', title: 'Kind', type: 'string' } }, required: ['kind'], title: 'M', type: 'object' },
    'conint ge le': { properties: { pct: { maximum: 100, minimum: 0, title: 'Pct', type: 'integer' } }, required: ['pct'], title: 'M', type: 'object' },
    'confloat gt lt': { properties: { p: { exclusiveMaximum: 1, exclusiveMinimum: 0, title: 'P', type: 'number' } }, required: ['p'], title: 'M', type: 'object' },
    'constr pattern min max': { properties: { code: { maxLength: 6, minLength: 2, pattern: '^[A-Z]+$', title: 'Code', type: 'string' } }, required: ['code'], title: 'M', type: 'object' },
    'list[str]': { properties: { tags: { items: { type: 'string' }, title: 'Tags', type: 'array' } }, required: ['tags'], title: 'M', type: 'object' },
    'dict[str, int]': { properties: { counts: { additionalProperties: { type: 'integer' }, title: 'Counts', type: 'object' } }, required: ['counts'], title: 'M', type: 'object' },
    'tuple[int, str]': { properties: { pair: { maxItems: 2, minItems: 2, prefixItems: [{ type: 'integer' }, { type: 'string' }], title: 'Pair', type: 'array' } }, required: ['pair'], title: 'M', type: 'object' },
    'set[Literal]': { properties: { flags: { items: { enum: ['a', 'b', 'c'], type: 'string' }, title: 'Flags', type: 'array', uniqueItems: true } }, required: ['flags'], title: 'M', type: 'object' },
    'set[int]': { properties: { ids: { items: { type: 'integer' }, title: 'Ids', type: 'array', uniqueItems: true } }, required: ['ids'], title: 'M', type: 'object' },
    'datetime, date, time, UUID': { properties: { at: { format: 'date-time', title: 'At', type: 'string' }, day: { format: 'date', title: 'Day', type: 'string' }, t: { format: 'time', title: 'T', type: 'string' }, id: { format: 'uuid', title: 'Id', type: 'string' } }, required: ['at', 'day', 't', 'id'], title: 'M', type: 'object' },
    'EmailStr, HttpUrl': { properties: { email: { format: 'email', title: 'Email', type: 'string' }, site: { format: 'uri', maxLength: 2083, minLength: 1, title: 'Site', type: 'string' } }, required: ['email', 'site'], title: 'M', type: 'object' },
    'timedelta, IPv4Address': { properties: { d: { format: 'duration', title: 'D', type: 'string' }, ip: { format: 'ipv4', title: 'Ip', type: 'string' } }, required: ['d', 'ip'], title: 'M', type: 'object' },
    'discriminated union': {
      $defs: { Cat: { properties: { pet_type: { const: 'cat', title: 'Pet Type', type: 'string' }, meows: { title: 'Meows', type: 'integer' } }, required: ['pet_type', 'meows'], title: 'Cat', type: 'object' }, Dog: { properties: { pet_type: { const: 'dog', title: 'Pet Type', type: 'string' }, barks: { title: 'Barks', type: 'number' } }, required: ['pet_type', 'barks'], title: 'Dog', type: 'object' } },
      properties: { pet: { discriminator: { mapping: { cat: '#/$defs/Cat', dog: '#/$defs/Dog' }, propertyName: 'pet_type' }, oneOf: [{ $ref: '#/$defs/Cat' }, { $ref: '#/$defs/Dog' }], title: 'Pet' } }, required: ['pet'], title: 'Model', type: 'object',
    },
    'Union[int, str]': { properties: { v: { anyOf: [{ type: 'integer' }, { type: 'string' }], title: 'V' } }, required: ['v'], title: 'M', type: 'object' },
    'recursive model': { $defs: { Node: { properties: { value: { title: 'Value', type: 'integer' }, children: { items: { $ref: '#/$defs/Node' }, title: 'Children', type: 'array' } }, required: ['value', 'children'], title: 'Node', type: 'object' } }, $ref: '#/$defs/Node' },
    'Field(multiple_of=5)': { properties: { n: { multipleOf: 5, title: 'N', type: 'integer' } }, required: ['n'], title: 'M', type: 'object' },
    'defaults, examples, deprecated': { properties: { a: { default: 'x', examples: ['x', 'y'], deprecated: true, description: 'A', title: 'A', type: 'string' } }, title: 'M', type: 'object' },
  }
  return Object.entries(cases).map(([name, schema]) => ({ source: 'pydantic', name, schema }))
}

/** The schemas in OpenAI's structured-outputs and function-calling guides. */
export function openaiCases(): CorpusCase[] {
  const step = { type: 'object', properties: { explanation: { type: 'string' }, output: { type: 'string' } }, required: ['explanation', 'output'], additionalProperties: false }
  const cases: Record<string, unknown> = {
    'get_weather function': { type: 'object', properties: { location: { type: 'string', description: 'City and country e.g. Bogotá, Colombia' }, units: { type: 'string', enum: ['celsius', 'fahrenheit'], description: 'Units the temperature will be returned in.' } }, required: ['location', 'units'], additionalProperties: false },
    'math reasoning': { type: 'object', properties: { steps: { type: 'array', items: step }, final_answer: { type: 'string' } }, required: ['steps', 'final_answer'], additionalProperties: false },
    'math reasoning with $defs': { type: 'object', properties: { steps: { type: 'array', items: { $ref: '#/$defs/step' } }, final_answer: { type: 'string' } }, $defs: { step }, required: ['steps', 'final_answer'], additionalProperties: false },
    'research paper extraction': { type: 'object', properties: { title: { type: 'string' }, authors: { type: 'array', items: { type: 'string' } }, abstract: { type: 'string' }, keywords: { type: 'array', items: { type: 'string' } } }, required: ['title', 'authors', 'abstract', 'keywords'], additionalProperties: false },
    'UI generation (recursive #)': {
      type: 'object', properties: { type: { type: 'string', description: 'The type of the UI component', enum: ['div', 'button', 'header', 'section', 'field', 'form'] }, label: { type: 'string' }, children: { type: 'array', items: { $ref: '#' } }, attributes: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, value: { type: 'string' } }, required: ['name', 'value'], additionalProperties: false } } },
      required: ['type', 'label', 'children', 'attributes'], additionalProperties: false,
    },
    'linked list': { type: 'object', properties: { linked_list: { $ref: '#/$defs/linked_list_node' } }, $defs: { linked_list_node: { type: 'object', properties: { value: { type: 'number' }, next: { anyOf: [{ $ref: '#/$defs/linked_list_node' }, { type: 'null' }] } }, additionalProperties: false, required: ['next', 'value'] } }, additionalProperties: false, required: ['linked_list'] },
    moderation: { type: 'object', properties: { is_violating: { type: 'boolean' }, category: { type: ['string', 'null'], enum: ['violence', 'sexual', 'self_harm', null] }, explanation_if_violating: { type: ['string', 'null'] } }, required: ['is_violating', 'category', 'explanation_if_violating'], additionalProperties: false },
    'supported properties (pattern, format)': { type: 'object', properties: { name: { type: 'string', description: 'The name of the user' }, username: { type: 'string', description: 'The username of the user. Must start with @', pattern: '^@[a-zA-Z0-9_]+$' }, email: { type: 'string', description: 'The email of the user', format: 'email' } }, additionalProperties: false, required: ['name', 'username', 'email'] },
    'number bounds': { type: 'object', properties: { value: { type: 'number', description: 'The value of the weather', minimum: -130, maximum: 130 } }, additionalProperties: false, required: ['value'] },
    'array bounds': { type: 'object', properties: { items: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 5 } }, additionalProperties: false, required: ['items'] },
    'anyOf user or address': {
      type: 'object', properties: { item: { anyOf: [
        { type: 'object', description: 'The user object to insert into the database', properties: { name: { type: 'string' }, age: { type: 'number' } }, additionalProperties: false, required: ['name', 'age'] },
        { type: 'object', description: 'The address object to insert into the database', properties: { number: { type: 'string' }, street: { type: 'string' }, city: { type: 'string' } }, additionalProperties: false, required: ['number', 'street', 'city'] },
      ] } }, additionalProperties: false, required: ['item'],
    },
    'string formats': { type: 'object', properties: { at: { type: 'string', format: 'date-time' }, t: { type: 'string', format: 'time' }, d: { type: 'string', format: 'date' }, dur: { type: 'string', format: 'duration' }, email: { type: 'string', format: 'email' }, host: { type: 'string', format: 'hostname' }, v4: { type: 'string', format: 'ipv4' }, v6: { type: 'string', format: 'ipv6' }, id: { type: 'string', format: 'uuid' } }, required: ['at', 't', 'd', 'dur', 'email', 'host', 'v4', 'v6', 'id'], additionalProperties: false },
    'get_stock_price (no additionalProperties)': { type: 'object', properties: { symbol: { type: 'string' } }, required: ['symbol'] },
  }
  return Object.entries(cases).map(([name, schema]) => ({ source: 'openai', name, schema }))
}

/**
 * llama.cpp's own converter test cases (`tests/test-json-schema-to-grammar.cpp` of the llama.cpp that
 * node-llama-cpp bundles), read from a clone of the bundle at test time: the schema text of each case and
 * whether llama.cpp expects its converter to succeed.
 */
export function llamaCppCases(): CorpusCase[] {
  const bundle = fileURLToPath(new URL('../../node_modules/node-llama-cpp/llama/gitRelease.bundle', import.meta.url))
  const dir = mkdtempSync(join(tmpdir(), 'llama-cpp-'))
  try {
    execFileSync('git', ['clone', '--quiet', bundle, dir], { stdio: 'ignore' })
    const source = readFileSync(join(dir, 'tests', 'test-json-schema-to-grammar.cpp'), 'utf8')
    const cases: CorpusCase[] = []
    for (const m of source.matchAll(/test\(\{\s*(SUCCESS|FAILURE),\s*"([^"]*)",\s*R"""\(([\s\S]*?)\)"""/g)) {
      let schema: unknown
      try {
        schema = JSON.parse(m[3]!)
      } catch {
        schema = m[3]
      }
      cases.push({ source: 'llama.cpp', name: m[2]!, schema, llamaAccepts: m[1] === 'SUCCESS' })
    }
    return cases
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

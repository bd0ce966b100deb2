import { describe, expect, it } from 'vitest'
import { compileJinja } from '../src/engine/jinja-compat.js'

/** Renders like Python Jinja2 (expected values are what Jinja2 3.1 prints for the same template). */
const render = (source: string, variables: Record<string, unknown> = {}) => compileJinja(source).render(variables)

describe('jinja-compat: @huggingface/jinja rendering as Python Jinja2 does', () => {
  it('unpacks tuples in for loops and treats them as iterable (Functionary v3.2)', () => {
    expect(render('{% for a, b in [("x", 1), ("y", 2)] %}{{ a }}={{ b }};{% endfor %}')).toBe('x=1;y=2;')
    expect(render('{{ ("a", "b") is iterable }}')).toBe('True')
  })

  it('selectattr / rejectattr / map over none give nothing (Functionary v3.1 without tools)', () => {
    expect(render('{% set t = none %}{{ t | selectattr("type", "equalto", "x") | list | length }}')).toBe('0')
    expect(render('{{ tools | rejectattr("type", "equalto", "x") | list | length }}')).toBe('0')
  })

  it('undefined iterates as empty, has length 0 and trims to ""', () => {
    expect(render('{% for t in tools %}{{ t }}{% else %}none{% endfor %}|{{ tools | length }}|{{ x.description | trim }}|', { x: {} })).toBe('none|0||')
  })

  it('dict literals with number keys: dictsort by the numbers, lookup by a number (Seed-OSS)', () => {
    const source = '{% set d = {512: "b", 0: "a", 4096: "c"} %}{% for k, v in d | dictsort %}{{ k + 1 }}{{ v }} {% endfor %}{{ d[4096] }}'
    expect(render(source)).toBe('1a 513b 4097c c')
  })

  it('min / max filters, str.format, and string of containers as Python repr', () => {
    expect(render('{{ [3, 1, 2] | min }}{{ [3, 1, 2] | max }}')).toBe('13')
    expect(render("{{ '<x{}y{}>'.format(1, 'a') }}")).toBe('<x1ya>')
    expect(render('{{ t | string }}', { t: { name: "it's", on: true, n: null, list: [1, 'a'] } })).toBe(`{'name': "it's", 'on': True, 'n': None, 'list': [1, 'a']}`)
  })

  it("list.append and list.pop mutate the list, as llama.cpp's minja allows (Kimi K2)", () => {
    expect(render('{% set ns = namespace(ids=[]) %}{% set _ = ns.ids.append("a") %}{% set _ = ns.ids.append("b") %}{{ ns.ids.pop(0) }}{{ ns.ids | length }}')).toBe('a1')
  })

  it('prints values as Python str(): True, None, containers as repr', () => {
    expect(render('{{ x }}|{{ n }}|{{ 1.0 }}|{{ [true, none] }}|{% set y = 1 %}{% if x %}ok{% endif %}', { x: true, n: null })).toBe('True|None|1.0|[True, None]|ok')
  })

  it("'…' + mapping concatenates the mapping's JSON, not [object Map]", () => {
    expect(render("{{ '>' + args }}", { args: { city: 'Paris' } })).toBe('>{"city": "Paris"}')
  })
})

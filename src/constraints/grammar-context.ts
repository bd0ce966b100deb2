import type { UnsupportedSchemaError } from './schema-error.js'

/** What the object and array grammars need from the converter that drives them. */
export interface GrammarContext {
  /** The expression for a subschema, adding the rules it needs. */
  visit(schema: unknown, pointer: string): string
  /** A new named rule with this body; returns its name. */
  rule(body: string): string
  /** A fresh rule-name stem, for families of rules that refer to each other. */
  stem(tag: string): string
  /** Adds a rule under a name from `stem`. */
  define(name: string, body: string): void
  /** Throws (strict) or records the keyword as relaxed and returns, the rest still enforced. */
  relax(error: UnsupportedSchemaError): void
}

/** Reads a keyword and marks it as handled. */
export type Take = (keyword: string) => unknown

/** Counts above this are past the grammar budget: llama.cpp expands `x{m,n}` into n rules and refuses more than 2000. */
export const MAX_REPEAT = 2000

import { LlamaGrammar, type Token } from 'node-llama-cpp'
import { ContextLengthExceededError, InvalidRequestError } from '../errors.js'
import { messageChars, refuseBeyondContext } from './prompt-bound.js'
import { tokenIdLists, type GenerationRequest, type GrammarSpec } from '../generation/request.js'
import type { GenerationPlan } from './generation-plan.js'
import { UnsupportedSchemaError } from '../constraints/schema-error.js'
import type { LoadedModel } from './loaded-model.js'
import type { RenderedPrompt } from './prompt-renderer.js'
import { THINK_CLOSE, THINK_OPEN } from './reasoning-splitter.js'
import { textWithout, toolCallGrammar } from '../constraints/tool-call-grammar.js'

/** Compiled grammars (and tool-call GBNF) kept per model: clients repeat the same response_format and tools. */
const MAX_CACHED_GRAMMARS = 32

/**
 * Turns a GenerationRequest into a GenerationPlan for one loaded model: renders the prompt, checks what
 * only the model can check (token ids, context length, n against its slots), resolves the token limit
 * and builds the grammar (tool calls in the model's own format), compiled once per distinct GBNF.
 */
export class RequestPlanner {
  /** Compiled grammars by GBNF text. */
  private readonly grammars = new Map<string, LlamaGrammar>()

  constructor(private readonly model: Pick<LoadedModel, 'info' | 'config' | 'renderer' | 'vocabulary' | 'model'>) {}

  /** Renders and checks a request: throws before anything is queued when it cannot be served. */
  plan(request: GenerationRequest): GenerationPlan {
    // The codec checked token ids and n against this model's facts (ModelDefaults); these guards only keep
    // a request that skipped it from reaching llama.cpp.
    this.checkTokenIds(request)
    if (request.n > this.model.info.parallel) throw new InvalidRequestError(`${request.n} choices do not fit ${this.model.info.parallel} slots.`, null)
    this.refuseCertainlyTooLong(request)
    const rendered = this.promptTokens(request)
    const contextSize = this.model.info.contextSize
    // At least one completion token must fit: that is also how many `fit` leaves free.
    const keep = request.truncatePromptTokens === 'fit' ? contextSize - 1 : request.truncatePromptTokens
    const promptTokens = keep === null ? rendered.tokens : rendered.tokens.slice(-keep)
    const free = contextSize - promptTokens.length
    if (free < 1) throw new ContextLengthExceededError(promptTokens.length, contextSize, promptParam(request))
    // The configured maxTokens is both the default and the ceiling.
    const ceiling = Math.min(request.maxTokens ?? this.model.config.maxTokens, this.model.config.maxTokens)
    const grammar = this.grammarSpec(request)
    const reasoning = rendered.reasoning
    return {
      request,
      promptTokens,
      promptCut: promptTokens.length < rendered.tokens.length,
      maxTokens: Math.min(ceiling, free),
      turnStopTokens: this.model.renderer.stopTokenIds,
      turnStopTexts: this.model.renderer.stopTexts,
      grammar: grammar ? this.compileGrammar(reasoning ? allowThinking(grammar, reasoning.startsInside) : grammar) : null,
      toolFormat: request.tools && request.tools.choice.kind !== 'none' ? this.model.renderer.toolFormat : null,
      reasoning,
    }
  }

  /**
   * The request's grammar: its response_format's, or the one that enforces its tool calls in the format
   * this model's template teaches (the format is the model's, so this grammar is built here, not in the codec).
   */
  private grammarSpec(request: GenerationRequest): GrammarSpec | null {
    const tools = request.tools
    // The codec refused a second grammar beside enforced tool calls.
    if (!tools || tools.choice.kind === 'none') return request.grammar
    try {
      return { gbnf: toolCallGrammar(this.model.renderer.toolFormat, tools)!, schema: null, param: 'tools' }
    } catch (error) {
      if (error instanceof UnsupportedSchemaError) throw new InvalidRequestError(`${error.message} Simplify the tool's parameters.`, 'tools')
      throw error
    }
  }

  /**
   * Tokenizing is synchronous and takes ~1 ms per kB, so a body of megabytes would stall every other request.
   * A text of n characters is at least n / longestTokenChars tokens: past the context by that bound alone, the
   * request is refused before it is tokenized. Only trimmed message contents count (templates may trim them or
   * drop reasoning), so the bound never refuses a prompt that would fit.
   */
  private refuseCertainlyTooLong(request: GenerationRequest): void {
    if (request.truncatePromptTokens !== null) return
    const input = request.input
    if (input.kind === 'tokens') return
    const chars =
      input.kind === 'chat' ? messageChars(input.messages)
      : input.kind === 'text' ? input.text.length
      : input.prefix.length + input.suffix.length
    refuseBeyondContext(this.model.vocabulary, this.model.info.contextSize, chars, promptParam(request), 1)
  }

  private promptTokens(request: GenerationRequest): RenderedPrompt {
    const input = request.input
    switch (input.kind) {
      case 'chat':
        // A prompt that will be truncated may be longer than the context: nothing to check then.
        return this.model.renderer.render(
          input.messages,
          request.tools?.definitions ?? null,
          input.template ?? null,
          request.truncatePromptTokens === null
            ? (chars) => refuseBeyondContext(this.model.vocabulary, this.model.info.contextSize, chars, request.tools ? 'tools' : promptParam(request), 1)
            : undefined,
        )
      case 'text':
        return { tokens: this.model.renderer.tokenizeText(input.text), reasoning: null }
      case 'infill':
        return { tokens: this.model.renderer.infill(input.prefix, input.suffix), reasoning: null }
      case 'tokens':
        return { tokens: input.tokens as Token[], reasoning: null }
    }
  }

  private compileGrammar(spec: GrammarSpec): LlamaGrammar {
    const { gbnf, param } = spec
    let grammar = this.grammars.get(gbnf)
    if (!grammar) {
      try {
        grammar = new LlamaGrammar(this.model.model.llama, { grammar: gbnf })
      } catch (error) {
        throw new InvalidRequestError(`The grammar does not parse as GBNF: ${(error as Error).message}.`, param)
      }
      remember(this.grammars, gbnf, grammar)
    }
    return grammar
  }

  /** Every token id the request names (biases, stops, bans, the prompt) must be in the vocabulary. */
  private checkTokenIds(request: GenerationRequest): void {
    for (const tokens of Object.values(tokenIdLists(request))) {
      for (const token of tokens) {
        if (!this.model.vocabulary.has(token)) throw new InvalidRequestError(`Token id ${token} is not in this model's vocabulary.`, null)
      }
    }
  }
}

/** Adds to a bounded cache, dropping the oldest entry when full. */
function remember<V>(cache: Map<string, V>, key: string, value: V): void {
  if (cache.size >= MAX_CACHED_GRAMMARS) cache.delete(cache.keys().next().value!)
  cache.set(key, value)
}

/**
 * A thinking model's output starts with its thoughts: a grammar that constrains the answer (tool calls,
 * JSON) lets a `<think>…</think>` segment come first (it must, when the prompt opened it), so the call
 * or the JSON follows the thoughts instead of being forced inside them. A raw GBNF `response_format`
 * is the client's whole-output grammar and stays as it is.
 */
function allowThinking(spec: GrammarSpec, startsInside: boolean): GrammarSpec {
  if (spec.param === 'response_format.grammar') return spec
  const answer = spec.gbnf.replace(/^root ::=/m, 'reasoned-answer ::=')
  const thoughts = `think-text-0 ${JSON.stringify(THINK_CLOSE)} [ \\t\\n]*`
  const root = startsInside ? `root ::= ${thoughts} reasoned-answer` : `root ::= ( ${JSON.stringify(THINK_OPEN)} ${thoughts} )? reasoned-answer`
  return { ...spec, gbnf: [root, answer, ...textWithout(THINK_CLOSE, 'think-text')].join('\n') }
}

/** The request field that holds the prompt: chat's messages, or completions' prompt. */
function promptParam(request: GenerationRequest): string {
  return request.input.kind === 'chat' ? 'messages' : 'prompt'
}

/**
 * Caps a thinking segment at a number of tokens (Anthropic's `thinking.budget_tokens`, llama-server's
 * reasoning budget). Once the segment has used its budget less the closing marker's length, the marker's
 * tokens are forced one by one (a sampling bias, so a grammar that allows thinking still agrees), and the
 * answer follows as the model continues. Thinking tokens, markers included, so stay within the budget.
 *
 * Pure: the generation asks for the token to force before each sample and reports each accepted token.
 */
export class ThinkingBudget {
  /** Index of the marker token to force next; back to 0 when the model took another token. */
  private next = 0
  private forcing: number | null = null

  constructor(
    private readonly budget: number,
    /** The closing marker (`</think>`) as this model tokenizes it. */
    private readonly closeTokens: readonly number[],
  ) {}

  /** The token the next sample must be, or null. Idempotent until `accepted` is called. */
  forcedToken(inReasoning: boolean, reasoningTokens: number): number | null {
    if (!inReasoning || this.closeTokens.length === 0) {
      this.next = 0
      this.forcing = null
    } else if (this.next === 0 && reasoningTokens < this.budget - this.closeTokens.length) {
      this.forcing = null
    } else {
      // Past the end of the marker while still inside the segment (it printed differently): force it again.
      this.forcing = this.closeTokens[this.next % this.closeTokens.length]!
    }
    return this.forcing
  }

  accepted(token: number): void {
    if (this.forcing === null) return
    this.next = token === this.forcing ? this.next + 1 : 0
  }
}

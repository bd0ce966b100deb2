/**
 * What `gguf-serve start` serves when no model is configured: Qwen2.5-0.5B-Instruct (Apache-2.0) at Q8_0,
 * 645 MiB, from Qwen's own GGUF repository. Small enough to download on first start and to run on a
 * laptop CPU, and its chat template has tool calling (Hermes-style <tool_call>), so every client
 * feature works out of the box.
 */
export const DEFAULT_MODEL = {
  id: 'qwen2.5-0.5b-instruct',
  source: 'hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q8_0.gguf',
} as const

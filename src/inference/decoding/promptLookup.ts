/**
 * Prompt-lookup drafting (as in Hugging Face's `prompt_lookup_num_tokens` and llama.cpp's lookup
 * decoding): the tokens that followed the most recent earlier occurrence of the last n-gram are
 * guessed to follow again. Greedy decoding then checks the whole guess in one forward pass and keeps
 * the tokens the model would have chosen anyway, so the output is the same as one token per pass.
 * Code and the loops small models fall into repeat a lot, which is where this pays.
 */
export interface DraftOptions {
  /** Longest n-gram to match (tried first); down to 1. */
  readonly maxNgram: number;
  /** Most tokens to propose. */
  readonly maxTokens: number;
}

export const DEFAULT_DRAFT: DraftOptions = { maxNgram: 3, maxTokens: 8 };

/**
 * The draft that follows the last n-gram of `history` where it occurred before, searching `history`
 * itself (most recent occurrence first), then `source` (an encoder input: translations copy names
 * and placeholders). Empty when nothing matches.
 */
export function findDraft(history: readonly number[], source: readonly number[] = [], options: DraftOptions = DEFAULT_DRAFT): number[] {
  if (options.maxTokens <= 0 || history.length === 0) return [];
  for (let n = Math.min(options.maxNgram, history.length); n >= 1; n--) {
    const tail = history.length - n;
    // Occurrences in history must end before the tail starts, or there is nothing after them to copy.
    for (let start = tail - 1; start >= 0; start--) {
      if (matchesAt(history, start, history, tail, n)) return continuation(history, start + n, options.maxTokens);
    }
    for (let start = source.length - n - 1; start >= 0; start--) {
      if (matchesAt(source, start, history, tail, n)) return source.slice(start + n, start + n + options.maxTokens);
    }
  }
  return [];
}

/**
 * The tokens from `from` on, extended periodically past the end of `history`: an occurrence close to
 * the tail (a loop of period p) proposes the loop repeated, not just the p tokens before the tail.
 */
function continuation(history: readonly number[], from: number, count: number): number[] {
  const out: number[] = [];
  for (let j = from; out.length < count; j++) out.push(j < history.length ? history[j] : out[j - history.length]);
  return out;
}

function matchesAt(haystack: readonly number[], at: number, needle: readonly number[], from: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (haystack[at + i] !== needle[from + i]) return false;
  return true;
}

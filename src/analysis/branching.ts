/**
 * Where a branch resumes: given a shown sequence of tokens and the alternative the user clicked at
 * one position, the prompt and forced token ids for the engine, so generation continues exactly
 * along the clicked path (ids, not re-tokenized text).
 */

export interface SequenceOrigin {
  /** The prompt (causal) or source (Seq2Seq) that the sequence was generated or scored from. */
  readonly prompt: string;
  /** Token ids forced before the sequence's first token. */
  readonly forcedIds: readonly number[];
}

export interface BranchPoint {
  readonly prompt: string;
  readonly forcedIds: number[];
}

/** Every shown token follows `origin.prompt` (scored text keeps its unscored head in the prompt). */
export function branchPoint(origin: SequenceOrigin, tokens: readonly { id: number }[], index: number, alternativeId: number): BranchPoint {
  const between = tokens.slice(0, index).map((t) => t.id);
  return { prompt: origin.prompt, forcedIds: [...origin.forcedIds, ...between, alternativeId] };
}

/**
 * The sequences with `sequence` in place of the one with its id, or added at the end: how both the
 * panel host and its webview apply a `sequence` message.
 */
export function upsertSequence<T extends { readonly id: number }>(sequences: readonly T[], sequence: T): T[] {
  return sequences.some((s) => s.id === sequence.id) ? sequences.map((s) => (s.id === sequence.id ? sequence : s)) : [...sequences, sequence];
}

/** The engine may or may not report forced tokens in its trace; this drops them when it does. */
export function withoutForced<T extends { id: number }>(tokens: readonly T[], forcedIds: readonly number[]): T[] {
  if (forcedIds.length === 0 || tokens.length < forcedIds.length) return [...tokens];
  for (let i = 0; i < forcedIds.length; i++) if (tokens[i]!.id !== forcedIds[i]) return [...tokens];
  return tokens.slice(forcedIds.length);
}

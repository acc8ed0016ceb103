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
  /**
   * Leading shown tokens that are part of `prompt` itself: scored text has its first token as the
   * prompt, because it has no context of its own.
   */
  readonly contextCount: number;
}

export interface BranchPoint {
  readonly prompt: string;
  readonly forcedIds: number[];
}

export function branchPoint(origin: SequenceOrigin, tokens: readonly { id: number; text: string }[], index: number, alternativeId: number): BranchPoint {
  if (index < origin.contextCount) {
    return { prompt: tokens.slice(0, index).map((t) => t.text).join(''), forcedIds: [alternativeId] };
  }
  const between = tokens.slice(origin.contextCount, index).map((t) => t.id);
  return { prompt: origin.prompt, forcedIds: [...origin.forcedIds, ...between, alternativeId] };
}

/** The engine may or may not report forced tokens in its trace; this drops them when it does. */
export function withoutForced<T extends { id: number }>(tokens: readonly T[], forcedIds: readonly number[]): T[] {
  if (forcedIds.length === 0 || tokens.length < forcedIds.length) return [...tokens];
  for (let i = 0; i < forcedIds.length; i++) if (tokens[i]!.id !== forcedIds[i]) return [...tokens];
  return tokens.slice(forcedIds.length);
}

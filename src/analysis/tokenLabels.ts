/**
 * How the attention inspector labels tokens. Byte-level BPE (GPT-2, BART) may split one character
 * over several tokens, each of which decodes to U+FFFD on its own. Such a run of tokens is matched
 * against the text the tokens came from: each token of the run is labelled with the character(s)
 * the run spells, and its hover text gives the UTF-8 bytes (exactly per token when the run has one
 * token per byte).
 */

export interface TokenLabel {
  /** What the axis shows. */
  readonly text: string;
  /** The hover text: the token as decoded, and the bytes of a partial character. */
  readonly title: string;
}

const REPLACEMENT = '\uFFFD';

/** Control characters made visible, the empty token shown as ∅. */
export function visibleToken(t: string): string {
  return t.replace(/\n/g, '↵').replace(/\t/g, '→').replace(/\r/g, '␍') || '∅';
}

function hexBytes(s: string): string[] {
  return [...new TextEncoder().encode(s)].map((b) => b.toString(16).toUpperCase().padStart(2, '0'));
}

/**
 * Labels for `tokens`. `text` is what they decode to together (the selection, the source or the
 * output); without it, partial characters keep their U+FFFD.
 */
export function tokenLabels(tokens: readonly string[], text?: string, lookahead = 16): TokenLabel[] {
  const labels: TokenLabel[] = tokens.map((t) => ({ text: visibleToken(t), title: JSON.stringify(t) }));
  if (!tokens.some((t) => t.includes(REPLACEMENT))) return labels;
  let cursor = 0;
  for (let i = 0; i < tokens.length; ) {
    const tok = tokens[i]!;
    if (!tok.includes(REPLACEMENT)) {
      if (text !== undefined && tok.length) {
        const found = text.indexOf(tok, cursor);
        if (found >= 0 && found - cursor <= lookahead) cursor = found + tok.length;
      }
      i++;
      continue;
    }
    // A run of partial tokens: tokens[i..j).
    let j = i;
    while (j < tokens.length && tokens[j]!.includes(REPLACEMENT)) j++;
    const run = j - i;
    let spelled: string | undefined;
    if (text !== undefined) {
      const next = tokens.slice(j).find((t) => t.length > 0);
      const end = next === undefined ? Math.min(text.length, cursor + 2 * run) : text.indexOf(next, cursor);
      const candidate = end >= cursor ? text.slice(cursor, end).trim() : '';
      // A run spells at least one non-ASCII character and no more bytes than it has tokens × 4.
      if (candidate && /[^\x00-\x7f]/.test(candidate) && hexBytes(candidate).length <= run * 4) {
        spelled = candidate;
        cursor = text.indexOf(candidate, cursor) + candidate.length;
      }
    }
    for (let k = i; k < j; k++) {
      if (spelled === undefined) {
        labels[k] = { text: visibleToken(tokens[k]!), title: 'part of a character split over several tokens (its bytes are not known here)' };
        continue;
      }
      const bytes = hexBytes(spelled);
      const part = run > 1 ? ` ${k - i + 1}/${run}` : '';
      const own = bytes.length === run ? `byte ${bytes[k - i]}` : `one of the bytes ${bytes.join(' ')}`;
      labels[k] = {
        text: `${visibleToken(spelled)}${part}`,
        title: `${own} of “${spelled}” (UTF-8 ${bytes.join(' ')}), spelled by ${run} token${run > 1 ? 's' : ''}; alone it decodes to U+FFFD`,
      };
    }
    i = j;
  }
  return labels;
}

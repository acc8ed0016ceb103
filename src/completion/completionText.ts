/** Shapes raw model output into ghost text. Pure, so it is unit-tested. */

export interface TrimOptions {
  /** Allow more than one line. */
  readonly multiline: boolean;
  /** Text after the cursor on the cursor's line: when there is some, only one line fits. */
  readonly lineSuffix: string;
  readonly stopStrings?: readonly string[];
  /** Most lines kept in multi-line mode. */
  readonly maxLines?: number;
}

export function trimCompletion(raw: string, o: TrimOptions): string {
  let text = raw;
  for (const stop of o.stopStrings ?? []) {
    const i = stop ? text.indexOf(stop) : -1;
    if (i >= 0) text = text.slice(0, i);
  }
  const oneLine = !o.multiline || o.lineSuffix.trim().length > 0;
  if (oneLine) {
    const nl = text.indexOf('\n');
    if (nl >= 0) text = text.slice(0, nl);
  } else {
    // A completion that begins with a newline still counts its first line.
    const lines = text.split('\n');
    const max = o.maxLines ?? 8;
    if (lines.length > max) text = lines.slice(0, max).join('\n');
  }
  return withoutOverlap(text.replace(/\s+$/, ''), o.lineSuffix);
}

/**
 * The completion without its end where that end is already after the cursor (`foo(|)` completed
 * with `a, b)` becomes `a, b`): accepting it must not write that text twice. A closing bracket is
 * taken as a repeat only when the completion has more closers than openers (`print(|)` completed
 * with `foo(x)` keeps its own parenthesis); other text only when the whole rest of the line repeats
 * (three characters or more, or punctuation: `compute(x)|;` completed with `.value;`).
 */
export function withoutOverlap(text: string, lineSuffix: string): string {
  const after = lineSuffix.trim();
  const unmatched = unmatchedClosers(text);
  for (let k = Math.min(after.length, text.length); k > 0; k--) {
    if (!text.endsWith(after.slice(0, k))) continue;
    const cut = text.slice(0, text.length - k);
    const closesTooMuch = unmatched > 0 && unmatchedClosers(cut) < unmatched;
    // The whole rest of the line again: three characters or more, or punctuation other than closing brackets (`;`,
    // `,`), which a suggestion ending in it would double; a letter or digit alone may be the suggestion's own
    // (`total += 1` | `1`), and a closing bracket is judged by the count above.
    const wholeRest = k === after.length && (k >= 3 || !/[\p{L}\p{N})\]}]/u.test(after));
    if (closesTooMuch || wholeRest) return cut.replace(/\s+$/, '');
  }
  return text;
}

const OPENERS: Readonly<Record<string, string>> = { ')': '(', ']': '[', '}': '{' };

/** Closing brackets in `text` without an opener before them in `text`. */
function unmatchedClosers(text: string): number {
  const open: string[] = [];
  let unmatched = 0;
  for (const ch of text) {
    if (ch === '(' || ch === '[' || ch === '{') open.push(ch);
    else if (OPENERS[ch]) {
      if (open.at(-1) === OPENERS[ch]) open.pop();
      else unmatched++;
    }
  }
  return unmatched;
}

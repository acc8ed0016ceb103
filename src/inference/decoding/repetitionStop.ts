/**
 * Where a generated text starts to loop, so that generation stops there: a line the text already
 * wrote (or the prompt's last line, where the text goes on from the cursor), or a stretch of words
 * repeated back to back (`number of the number of the …`). Small models fall into such loops under
 * greedy decoding; a suggestion made of them is never worth showing.
 */

/** Lines shorter than this (trimmed) repeat legitimately (`}`, `end`, blank lines) unless they repeat back to back. */
const MIN_LINE = 4;
/** A repeated stretch must have this many letters or digits, and repeat this many times back to back. */
const MIN_WORD_CHARS = 2;
const MAX_PERIOD = 80;
/** A line that is a comment in the languages inline completion sees most (`#`, `//`, `/*`, `--`, `;`). */
const COMMENT = /^(#|\/\/|\/\*|--|;)/;

/**
 * The index in `text` where the repetition begins (the text is cut there), or -1. `promptLine` is the
 * prompt's last line up to the cursor (what the first generated line continues).
 */
export function repetitionStart(text: string, promptLine = ''): number {
  return Math.max(-1, minIndex(repeatedLine(text, promptLine), repeatedStretch(text)));
}

function minIndex(a: number, b: number): number {
  if (a < 0) return b;
  if (b < 0) return a;
  return Math.min(a, b);
}

/**
 * The start of the last complete line when it repeats a line before it (the first generated line
 * counts with the prompt's line it continues), or, however short, the line right before it.
 */
function repeatedLine(text: string, promptLine: string): number {
  const end = text.lastIndexOf('\n');
  if (end <= 0) return -1;
  const start = text.lastIndexOf('\n', end - 1) + 1;
  if (start === 0) return -1;
  const raw = text.slice(start, end);
  const line = raw.trim();
  if (line === '') return -1;
  const rawBefore = (promptLine + text.slice(0, start - 1)).split('\n');
  const before = rawBefore.map((l) => l.trim());
  // Also seen: what the text wrote on the cursor's line (` # The` after code, then `# The` again below), and a
  // comment that ends an earlier line, repeated as a line of its own.
  const firstWritten = text.slice(0, text.indexOf('\n')).trim();
  const seenBefore = line.length >= MIN_LINE && /[\p{L}\p{N}]/u.test(line)
    && (before.includes(line) || (promptLine.trim() !== '' && line === firstWritten) || (COMMENT.test(line) && before.some((l) => l.endsWith(` ${line}`))));
  // Back to back: closing brackets at different depths differ only in indentation, so compare those as written.
  const previous = /[\p{L}\p{N}]/u.test(line) ? before[before.length - 1] : rawBefore[rawBefore.length - 1];
  return seenBefore || previous === (/[\p{L}\p{N}]/u.test(line) ? line : raw) ? start : -1;
}

/** The start of the second copy when the text ends with a stretch repeated back to back three times (twice for long ones). */
function repeatedStretch(text: string): number {
  for (let period = 2; period <= MAX_PERIOD && period * 2 <= text.length; period++) {
    const unit = text.slice(text.length - period);
    if ((unit.match(/[\p{L}\p{N}]/gu)?.length ?? 0) < MIN_WORD_CHARS) continue;
    let copies = 1;
    while (copies * period + period <= text.length && text.slice(text.length - (copies + 1) * period, text.length - copies * period) === unit) copies++;
    const needed = period >= 12 ? 2 : 3;
    if (copies >= needed) return text.length - (copies - 1) * period;
  }
  return -1;
}

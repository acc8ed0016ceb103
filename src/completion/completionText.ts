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
  return text.replace(/\s+$/, '');
}

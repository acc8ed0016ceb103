/**
 * Snippets of recently edited, visible or left files for inline completions, kept the way llama.vscode keeps its
 * ring buffer of chunks: a chunk is a few dozen lines around where the user was, chunks too small to say anything
 * are skipped, a chunk whose lines mostly equal an older one's (Jaccard similarity of their line sets above 0.9)
 * replaces it, and the oldest chunk goes first when the ring is full. Pure (no editor), so it is unit-tested;
 * `snippetCollector.ts` feeds it from the editor's events.
 */

export interface Snippet {
  /** The file's path as a header names it (workspace-relative). */
  readonly path: string;
  readonly languageId: string;
  /** The chunk's lines joined, with a newline at the end. */
  readonly text: string;
  /** When it was picked (or picked again), for the order. */
  readonly time: number;
}

export interface SnippetRingOptions {
  /** Chunks kept (llama.vscode's `ring_n_chunks`: 16). */
  readonly capacity?: number;
  /** Lines in a chunk (llama.vscode picks half its `ring_chunk_size` of 64 around the cursor: 32). */
  readonly chunkLines?: number;
  /** Fewest non-blank lines worth keeping (llama.vscode: 3). */
  readonly minLines?: number;
  /** A new chunk this similar to an older one replaces it (llama.vscode: 0.9). */
  readonly similarity?: number;
}

interface Entry extends Snippet {
  readonly lineSet: ReadonlySet<string>;
}

/** Jaccard similarity of two sets of lines: shared lines over all distinct lines (1 for two empty sets). */
export function lineSimilarity(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 && b.size === 0) return 1;
  let shared = 0;
  for (const line of a) if (b.has(line)) shared++;
  return shared / (a.size + b.size - shared);
}

/** `size` lines of `lines` centred on `line` (shifted to stay inside the file). */
export function chunkAround(lines: readonly string[], line: number, size: number): string[] {
  const start = Math.max(0, Math.min(line - Math.floor(size / 2), lines.length - size));
  return lines.slice(start, start + size);
}

export class SnippetRing {
  private entries: Entry[] = [];
  readonly capacity: number;
  readonly chunkLines: number;
  private readonly minLines: number;
  private readonly similarity: number;

  constructor(options: SnippetRingOptions = {}) {
    this.capacity = options.capacity ?? 16;
    this.chunkLines = options.chunkLines ?? 32;
    this.minLines = options.minLines ?? 3;
    this.similarity = options.similarity ?? 0.9;
  }

  /**
   * Picks the chunk of `lines` around `line` from the file at `path`. Returns whether it was kept: not when it has
   * too few non-blank lines; an identical chunk is only moved to the newest place.
   */
  pick(path: string, languageId: string, lines: readonly string[], line: number, now: number): boolean {
    const chunk = chunkAround(lines, line, this.chunkLines).map((l) => l.replace(/\s+$/, ''));
    while (chunk.length > 0 && !chunk[chunk.length - 1]) chunk.pop();
    while (chunk.length > 0 && !chunk[0]) chunk.shift();
    if (chunk.filter((l) => l.trim()).length < this.minLines) return false;
    const text = `${chunk.join('\n')}\n`;
    const lineSet = new Set(chunk.filter((l) => l.trim()));
    // The same text, or one this similar (the same place after a few edits), is replaced by the new one.
    this.entries = this.entries.filter((e) => e.text !== text && lineSimilarity(e.lineSet, lineSet) <= this.similarity);
    this.entries.push({ path, languageId, text, time: now, lineSet });
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
    return true;
  }

  /** Snippets in `languageId` from files other than `exceptPath`, newest first. */
  snippets(languageId: string, exceptPath: string): Snippet[] {
    return this.entries
      .filter((e) => e.languageId === languageId && e.path !== exceptPath)
      .reverse()
      .map(({ path, languageId: lang, text, time }) => ({ path, languageId: lang, text, time }));
  }

  /** Drops every snippet of a file (it became excluded, or was deleted). */
  forget(path: string): void {
    this.entries = this.entries.filter((e) => e.path !== path);
  }

  get size(): number {
    return this.entries.length;
  }

  clear(): void {
    this.entries = [];
  }
}

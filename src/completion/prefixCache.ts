/**
 * Remembers recent inline completions so that typing through ghost text, or coming back to the
 * same place, needs no new generation: a cached completion for prefix P also answers prefix P + t
 * when the completion starts with t.
 */
interface Entry {
  readonly key: string;
  readonly prefix: string;
  readonly completion: string;
}

export class PrefixCache {
  private entries: Entry[] = [];

  constructor(private readonly capacity = 64) {}

  /** The rest of a cached completion that continues `prefix`, or undefined. */
  get(key: string, prefix: string): string | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const entry = this.entries[i]!;
      if (entry.key !== key || !prefix.startsWith(entry.prefix)) continue;
      const typed = prefix.slice(entry.prefix.length);
      if (!entry.completion.startsWith(typed)) continue;
      const rest = entry.completion.slice(typed.length);
      if (rest.trim().length === 0) continue;
      // Most recently used last.
      this.entries.splice(i, 1);
      this.entries.push(entry);
      return rest;
    }
    return undefined;
  }

  set(key: string, prefix: string, completion: string): void {
    if (completion.trim().length === 0) return;
    this.entries = this.entries.filter((e) => e.key !== key || e.prefix !== prefix);
    this.entries.push({ key, prefix, completion });
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
  }

  get size(): number {
    return this.entries.length;
  }

  clear(): void {
    this.entries = [];
  }
}

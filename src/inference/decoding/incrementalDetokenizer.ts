import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { decodingTraits } from '../loading/tokenizer';

/**
 * Turns ids into text as they are generated, at a cost per token that does not grow with the text:
 * each new id is decoded in a window with the ids of the previous step before it (as vLLM and Text
 * Generation Inference do), and the text it adds is the growth of that window's decoding. The text is
 * exactly `tokenizer.decode(ids, { skip_special_tokens })` of all ids so far:
 * - byte-level tokens can end inside a UTF-8 character: the window then decodes to U+FFFD at its end,
 *   and the ids are held until the character is complete (`flush` gives them at the end);
 * - the decoder may treat the first token of a sequence differently (Metaspace drops its leading
 *   space): the window's own first ids are the earlier ones, decoded in both the old and new window;
 * - `clean_up_tokenization_spaces` (" ." → ".", " 's" → "'s", …) can change text a later token
 *   follows: windows are decoded without it, and it is applied here to text no later token can
 *   change (every cleaned pattern starts with a space and is at most 4 characters long);
 * - special tokens, when skipped, are dropped before the window, so a window never starts with one.
 * A tokenizer whose decoder is not token-local (`decodingTraits(…).windowed` false) has its window
 * always start at the first id: exact, at a cost that grows with the text.
 */
export class IncrementalDetokenizer {
  private readonly windowed: boolean;
  private readonly cleanUp: boolean;
  private readonly special: ReadonlySet<number>;
  /** The ids that make text (skipped special tokens are not kept). */
  private readonly ids: number[] = [];
  /** The window starts here: ids already turned into text, decoded again as the new ids' context. */
  private windowStart = 0;
  /** Ids from here on have not made text yet (the window's new ids). */
  private readStart = 0;
  /** `decode(ids[windowStart, readStart))`. */
  private contextText = '';
  /** Text that no later token changes, cleaned up. */
  private settled = '';
  /** The decoded text after `settled`, not yet cleaned up (a few characters). */
  private pendingRaw = '';
  /** `pendingRaw` cleaned up: what the text ends with now. */
  private pending = '';

  constructor(
    private readonly tokenizer: PreTrainedTokenizer,
    private readonly skipSpecial = true,
  ) {
    const traits = decodingTraits(tokenizer);
    this.windowed = traits.windowed;
    this.cleanUp = traits.cleanUp;
    const additional = (tokenizer.config as { additional_special_tokens?: unknown } | undefined)?.additional_special_tokens;
    // Decoding skips the added special tokens and the vocabulary's tokens that the config calls special.
    const extra = Array.isArray(additional) ? additional.filter((t): t is string => typeof t === 'string').map((t) => tokenizer.convert_tokens_to_ids(t) as number | undefined) : [];
    this.special = new Set([...tokenizer.all_special_ids, ...extra.filter((id): id is number => typeof id === 'number')]);
  }

  /** The text of all ids pushed so far, as `tokenizer.decode` gives it (less an incomplete character at the end). */
  get current(): string {
    return this.settled + this.pending;
  }

  /** How long the start of `current` is that no later token can change. */
  get settledLength(): number {
    return this.settled.length;
  }

  /** Adds one id; returns the text it added to `current` (empty while a character is incomplete). */
  push(id: number): string {
    if (this.skipSpecial && this.special.has(id)) return '';
    this.ids.push(id);
    const windowText = this.decode(this.ids.slice(this.windowStart));
    // An incomplete character decodes to U+FFFD; its bytes are reported with the token that completes it.
    if (windowText.endsWith('\uFFFD')) return '';
    return this.advance(windowText);
  }

  /** Gives the text of ids held back for an incomplete character (as U+FFFD, as a full decode does). */
  flush(): string {
    if (this.readStart === this.ids.length) return '';
    return this.advance(this.decode(this.ids.slice(this.windowStart)));
  }

  /** Takes the window's text: what it adds after the context becomes text, and the window moves on. */
  private advance(windowText: string): string {
    const before = this.pending;
    const beforeSettled = this.settled.length;
    // The context decodes to the start of its window for every windowed decoder; were it ever not
    // so, the whole text is decoded once to stay exact.
    const added = windowText.startsWith(this.contextText) ? windowText.slice(this.contextText.length) : this.resync();
    if (this.windowed) {
      // The ids just read become the next window's context.
      this.windowStart = this.readStart;
      this.readStart = this.ids.length;
      this.contextText = this.decode(this.ids.slice(this.windowStart, this.readStart));
    } else {
      // A decoder that is not token-local decodes from the first id every time (a cost that grows with the text).
      this.readStart = this.ids.length;
      this.contextText = windowText;
    }
    this.pendingRaw += added;
    const cut = this.cleanUp ? safeCut(this.pendingRaw) : this.pendingRaw.length;
    if (cut > 0) {
      this.settled += this.clean(this.pendingRaw.slice(0, cut));
      this.pendingRaw = this.pendingRaw.slice(cut);
    }
    this.pending = this.clean(this.pendingRaw);
    // What the text ends with now, against what it ended with: usually an extension.
    const after = this.settled.slice(beforeSettled) + this.pending;
    return after.slice(after.startsWith(before) ? before.length : commonPrefixLength(before, after));
  }

  /** The text the new ids add, from a decoding of all ids (where the window's context did not hold). */
  private resync(): string {
    const whole = this.decode(this.ids.slice(0, this.ids.length));
    const known = this.decode(this.ids.slice(0, this.readStart));
    return whole.startsWith(known) ? whole.slice(known.length) : whole.slice(commonPrefixLength(known, whole));
  }

  private decode(ids: readonly number[]): string {
    return ids.length === 0 ? '' : this.tokenizer.decode(ids as number[], { skip_special_tokens: this.skipSpecial, clean_up_tokenization_spaces: false });
  }

  private clean(text: string): string {
    return this.cleanUp ? cleanUpTokenizationSpaces(text) : text;
  }
}

/**
 * `clean_up_tokenization_spaces` as transformers (Python and JS) define it: each pattern replaced
 * everywhere, in this order.
 */
const CLEAN_UP: readonly (readonly [string, string])[] = [
  [' .', '.'],
  [' ?', '?'],
  [' !', '!'],
  [' ,', ','],
  [" ' ", "'"],
  [" n't", "n't"],
  [" 'm", "'m"],
  [" 's", "'s"],
  [" 've", "'ve"],
  [" 're", "'re"],
];

function cleanUpTokenizationSpaces(text: string): string {
  if (!text.includes(' ')) return text;
  let out = text;
  for (const [from, to] of CLEAN_UP) out = out.replaceAll(from, to);
  return out;
}

/** The longest pattern of `CLEAN_UP`. */
const LONGEST_PATTERN = 4;

/**
 * The longest start of `raw` that cleans up the same whatever follows: it must end where the last
 * `LONGEST_PATTERN` characters hold no space (every pattern starts with one and removes only spaces,
 * so no match can reach across that point). Text before `raw` was cut at such a point already.
 */
function safeCut(raw: string): number {
  let end = raw.length;
  for (;;) {
    const space = raw.lastIndexOf(' ', end - 1);
    if (space < 0 || space < end - LONGEST_PATTERN) return end;
    end = space;
    if (end === 0) return 0;
  }
}

function commonPrefixLength(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

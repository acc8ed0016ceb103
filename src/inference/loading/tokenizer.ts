import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as transformers from '@huggingface/transformers';
import { InferenceError } from '../errors';

type TokenizerClass = new (json: unknown, config: unknown) => transformers.PreTrainedTokenizer;

/**
 * Builds the transformers.js tokenizer from a folder's `tokenizer.json` and `tokenizer_config.json`,
 * choosing the class by `tokenizer_class` exactly as `AutoTokenizer` does, without its global `env`.
 */
export function loadTokenizer(folder: string): transformers.PreTrainedTokenizer {
  const read = (name: string): unknown => {
    let text: string;
    try {
      text = readFileSync(join(folder, name), 'utf8');
    } catch {
      throw new InferenceError('model-not-found', `The model folder has no ${name} (${folder}).`);
    }
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new InferenceError('model-corrupt', `${name} in ${folder} is not valid JSON: ${(err as Error).message}`);
    }
  };
  const json = read('tokenizer.json');
  const config = read('tokenizer_config.json') as { tokenizer_class?: string };
  const name = config.tokenizer_class?.replace(/Fast$/, '') ?? 'PreTrainedTokenizer';
  const exports = transformers as unknown as Record<string, unknown>;
  const cls = (typeof exports[name] === 'function' ? exports[name] : transformers.PreTrainedTokenizer) as TokenizerClass;
  try {
    return new cls(json, config);
  } catch (err) {
    throw new InferenceError('model-corrupt', `Could not build the tokenizer of ${folder}: ${(err as Error).message}`);
  }
}

/**
 * Turns ids into the text each token adds. Byte-level BPE tokens can be partial UTF-8 characters, so
 * a token's text is the growth of the decoded sequence, not the decoding of the token alone.
 */
export class IncrementalDetokenizer {
  private ids: number[] = [];
  private text = '';

  constructor(
    private readonly tokenizer: transformers.PreTrainedTokenizer,
    private readonly skipSpecial = true,
  ) {}

  get current(): string {
    return this.text;
  }

  push(id: number): string {
    this.ids.push(id);
    const next = this.tokenizer.decode(this.ids, { skip_special_tokens: this.skipSpecial });
    // An incomplete character decodes to U+FFFD; its bytes are reported with the token that completes it.
    if (next.endsWith('\uFFFD')) return '';
    const added = next.startsWith(this.text) ? next.slice(this.text.length) : next;
    this.text = next;
    return added;
  }
}

const tokenTexts = new WeakMap<transformers.PreTrainedTokenizer, Map<number, string>>();

/** The display text of a single token (its own decoding, special tokens included); cached per tokenizer. */
export function tokenText(tokenizer: transformers.PreTrainedTokenizer, id: number): string {
  let cache = tokenTexts.get(tokenizer);
  if (!cache) tokenTexts.set(tokenizer, (cache = new Map()));
  let text = cache.get(id);
  if (text === undefined) cache.set(id, (text = tokenizer.decode([id], { skip_special_tokens: false })));
  return text;
}

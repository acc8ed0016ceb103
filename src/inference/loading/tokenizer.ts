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
  const json = read('tokenizer.json') as TokenizerJson;
  const config = read('tokenizer_config.json') as { tokenizer_class?: string };
  const name = config.tokenizer_class?.replace(/Fast$/, '') ?? 'PreTrainedTokenizer';
  const exports = transformers as unknown as Record<string, unknown>;
  const cls = (typeof exports[name] === 'function' ? exports[name] : transformers.PreTrainedTokenizer) as TokenizerClass;
  let tokenizer: transformers.PreTrainedTokenizer;
  try {
    tokenizer = new cls(json, config);
  } catch (err) {
    throw new InferenceError('model-corrupt', `Could not build the tokenizer of ${folder}: ${(err as Error).message}`);
  }
  windowedDecoders.set(tokenizer, !json?.model?.end_of_word_suffix && isWindowed(json?.decoder ?? null));
  return tokenizer;
}

interface DecoderJson {
  readonly type?: string;
  readonly decoders?: readonly DecoderJson[];
}

interface TokenizerJson {
  readonly decoder?: DecoderJson | null;
  readonly model?: { readonly end_of_word_suffix?: string | null };
}

/**
 * What incremental decoding needs to know about a tokenizer's decoder, read from its files at load.
 * `windowed`: every step of the decoder maps each token alone, except that the first token of a
 * sequence may lose a leading space (Metaspace) or be joined differently (WordPiece), and byte tokens
 * join into UTF-8 characters; so decoding a few ids before the new ones gives the text the new ones
 * add. BPE's end-of-word suffix (the last token is decoded differently) and CTC's merging do not.
 * `cleanUp`: whether decoding removes the spaces before punctuation (`clean_up_tokenization_spaces`).
 */
export interface DecodingTraits {
  readonly windowed: boolean;
  readonly cleanUp: boolean;
}

const windowedDecoders = new WeakMap<transformers.PreTrainedTokenizer, boolean>();

/** The tokenizer's decoding traits; a tokenizer not built by `loadTokenizer` is never windowed. */
export function decodingTraits(tokenizer: transformers.PreTrainedTokenizer): DecodingTraits {
  const config = tokenizer.config as { clean_up_tokenization_spaces?: boolean } | undefined;
  // transformers.js cleans up unless tokenizer_config.json says not to.
  return { windowed: windowedDecoders.get(tokenizer) ?? false, cleanUp: config?.clean_up_tokenization_spaces ?? true };
}

/** Decoder steps whose output for a token depends on that token alone (and, at most, on being the first). */
const WINDOWED_DECODERS = new Set(['ByteLevel', 'Metaspace', 'WordPiece', 'Replace', 'Fuse', 'Strip', 'ByteFallback']);

function isWindowed(decoder: DecoderJson | null): boolean {
  if (decoder === null) return true; // tokens joined with spaces
  if (decoder.type === 'Sequence') return (decoder.decoders ?? []).every(isWindowed);
  return decoder.type !== undefined && WINDOWED_DECODERS.has(decoder.type);
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

import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { InferenceError } from './errors';

/**
 * Fill-in-the-middle (Bavarian et al., 2022): a code model trained to write what goes between a
 * prefix and a suffix reads them in its own format, marked by special tokens of its vocabulary. The
 * format is recognised from those tokens, as Continue and llama.cpp recognise it.
 */
export type FimOrder = 'psm' | 'spm';

export interface FimFormat {
  /** The family, for messages and `GenerateResult.fim`. */
  readonly name: string;
  readonly prefix: string;
  readonly suffix: string;
  /** Absent where the prompt ends with the prefix (suffix-prefix-middle, Codestral). */
  readonly middle?: string;
  /**
   * `psm`: prefix, suffix, middle; `spm`: suffix first, then prefix (the middle continues the prefix). A family
   * with a middle marker writes SPM as the FIM paper's variant that StarCoder and SantaCoder also trained on:
   * prefix and suffix markers, the suffix, the middle marker, then the prefix.
   */
  readonly order: FimOrder;
  /** Tokens that end the middle besides the model's EOS. */
  readonly stops: readonly string[];
  /**
   * A served model's name that says it is of this family (as Continue chooses a template from the
   * model name): a server that takes only text gets the prompt written with the markers as text.
   */
  readonly modelNames?: RegExp;
  /** The markers as a text prompt writes them, where that differs (CodeLlama's spaces): prefix, suffix, middle. */
  readonly asText?: { readonly prefix: string; readonly suffix: string; readonly middle?: string };
}

/** The families, most specific first: the first whose three markers are all in the vocabulary is used. */
export const FIM_FORMATS: readonly FimFormat[] = [
  // Qwen2.5-Coder, CodeGemma
  {
    name: 'qwen/codegemma',
    prefix: '<|fim_prefix|>',
    suffix: '<|fim_suffix|>',
    middle: '<|fim_middle|>',
    order: 'psm',
    stops: ['<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>', '<|fim_pad|>', '<|file_sep|>', '<|repo_name|>', '<|im_start|>', '<|im_end|>', '<|file_separator|>', '<|endoftext|>', '<end_of_turn>'],
    modelNames: /qwen[^/]*coder|codegemma/i,
  },
  // StarCoder, StarCoder2, SantaCoder, stable-code, CodeQwen1.5
  { name: 'starcoder', prefix: '<fim_prefix>', suffix: '<fim_suffix>', middle: '<fim_middle>', order: 'psm', stops: ['<fim_prefix>', '<fim_suffix>', '<fim_middle>', '<fim_pad>', '<file_sep>', '<|endoftext|>'], modelNames: /star-?coder|starchat|octocoder|santacoder|stable-?code|codeqwen/i },
  // DeepSeek-Coder
  { name: 'deepseek', prefix: '<｜fim▁begin｜>', suffix: '<｜fim▁hole｜>', middle: '<｜fim▁end｜>', order: 'psm', stops: ['<｜fim▁begin｜>', '<｜fim▁hole｜>', '<｜fim▁end｜>', '<|EOT|>', '<｜end▁of▁sentence｜>'], modelNames: /deepseek[^/]*coder/i },
  // CodeLlama (SentencePiece writes its markers with the word-start mark; a text prompt with spaces)
  { name: 'codellama', prefix: '▁<PRE>', suffix: '▁<SUF>', middle: '▁<MID>', order: 'psm', stops: ['▁<EOT>', '<EOT>'] },
  { name: 'codellama', prefix: '<PRE>', suffix: '<SUF>', middle: '<MID>', order: 'psm', stops: ['<PRE>', '<SUF>', '<MID>', '<EOT>'], modelNames: /code-?llama/i, asText: { prefix: '<PRE> ', suffix: ' <SUF>', middle: ' <MID>' } },
  // Codestral: [SUFFIX] suffix [PREFIX] prefix, and the middle follows the prefix
  { name: 'codestral', prefix: '[PREFIX]', suffix: '[SUFFIX]', order: 'spm', stops: ['[PREFIX]', '[SUFFIX]'], modelNames: /codestral/i },
];

/**
 * Why a request's suffix is not filled toward, or undefined when it is: a blank suffix (the cursor at the end of
 * the text) says nothing of where the middle should go, and a small FIM model trained on few empty suffixes ends
 * such a middle at once; the text before the cursor is continued alone instead, by local and served models alike.
 */
export function blankSuffix(suffix: string): string | undefined {
  return /\S/.test(suffix) ? undefined : 'Nothing but blanks follows the cursor: the text before it was continued alone, without fill-in-the-middle.';
}

/** The family a served model's name says it is of (the first whose `modelNames` match), or undefined. */
export function fimFormatForModelName(model: string): FimFormat | undefined {
  return FIM_FORMATS.find((f) => f.modelNames?.test(model));
}

/** The names of the families a served model's name is recognised by, for messages. */
export function fimFamiliesByName(): string {
  return [...new Set(FIM_FORMATS.filter((f) => f.modelNames).map((f) => f.name))].join(', ');
}

/**
 * A fill-in-the-middle prompt as text, for a server that takes only text (an OpenAI-compatible
 * completions API): the server's tokenizer reads the markers as the model's special tokens.
 */
export function fimPromptText(format: FimFormat, prefix: string, suffix: string): string {
  const m = format.asText ?? format;
  if (format.order === 'psm') return `${m.prefix}${prefix}${m.suffix}${suffix}${m.middle ?? ''}`;
  return m.middle === undefined ? `${m.suffix}${suffix}${m.prefix}${prefix}` : `${m.prefix}${m.suffix}${suffix}${m.middle}${prefix}`;
}

/** The model's fill-in-the-middle format and the ids of its markers, or undefined when it has none. */
export interface FimTokens {
  readonly format: FimFormat;
  readonly prefixId: number;
  readonly suffixId: number;
  readonly middleId?: number;
  readonly stopIds: readonly number[];
}

/**
 * The first family whose markers are all in `vocab`. `order` is the model's own declaration (config.json's
 * `fim_order`, for a model trained on the other order than its family's usual one): the family's markers in it.
 */
export function fimTokens(vocab: ReadonlyMap<string, number>, order?: FimOrder): FimTokens | undefined {
  for (const family of FIM_FORMATS) {
    const format = order === undefined || order === family.order ? family : { ...family, name: `${family.name} ${order}`, order };
    const prefixId = vocab.get(format.prefix);
    const suffixId = vocab.get(format.suffix);
    const middleId = format.middle === undefined ? undefined : vocab.get(format.middle);
    if (prefixId === undefined || suffixId === undefined || (format.middle !== undefined && middleId === undefined)) continue;
    const stopIds = format.stops.map((s) => vocab.get(s)).filter((id): id is number => id !== undefined);
    return { format, prefixId, suffixId, middleId, stopIds: [...new Set(stopIds)] };
  }
  return undefined;
}

/** The vocabulary as a map (transformers.js tokenizers give it as a Map or a plain object). */
export function vocabularyOf(tokenizer: PreTrainedTokenizer): ReadonlyMap<string, number> {
  const vocab = tokenizer.get_vocab() as unknown;
  return vocab instanceof Map ? (vocab as Map<string, number>) : new Map(Object.entries(vocab as Record<string, number>));
}

/**
 * The ids of a fill-in-the-middle prompt: the markers around the prefix's and the suffix's own
 * tokens (each tokenized alone, as a tokenizer splits a prompt at special tokens), after BOS where
 * the tokenizer adds one. When the whole does not fit `budget` tokens, `truncate` keeps the end of
 * the prefix (the text nearest the cursor) and the start of the suffix, giving the prefix two thirds.
 */
export function fimPromptIds(tokenizer: PreTrainedTokenizer, fim: FimTokens, prefix: string, suffix: string, budget: number, truncate: boolean, name: string): number[] {
  const withSpecial = tokenizer.encode('a') as number[];
  const plain = tokenizer.encode('a', { add_special_tokens: false }) as number[];
  const bos = withSpecial.length > plain.length && withSpecial[0] !== plain[0] ? [withSpecial[0]!] : [];
  let pre = tokenizer.encode(prefix, { add_special_tokens: false }) as number[];
  let suf = tokenizer.encode(suffix, { add_special_tokens: false }) as number[];
  const markers = bos.length + 2 + (fim.middleId === undefined ? 0 : 1);
  const room = budget - markers;
  if (pre.length + suf.length > room) {
    if (!truncate) throw new InferenceError('context-overflow', `The text before and after the cursor is ${pre.length + suf.length + markers} tokens long; the model "${name}" has room for ${budget} besides the tokens it writes.`);
    if (room < 1) throw new InferenceError('context-overflow', `The model "${name}" has no room for a prompt beside ${budget} new tokens.`);
    const keepSuffix = Math.min(suf.length, Math.max(room - pre.length, Math.floor(room / 3)));
    suf = suf.slice(0, keepSuffix);
    pre = pre.slice(pre.length - (room - keepSuffix));
  }
  if (fim.format.order === 'psm') return [...bos, fim.prefixId, ...pre, fim.suffixId, ...suf, ...(fim.middleId === undefined ? [] : [fim.middleId])];
  return fim.middleId === undefined ? [...bos, fim.suffixId, ...suf, fim.prefixId, ...pre] : [...bos, fim.prefixId, fim.suffixId, ...suf, fim.middleId, ...pre];
}

/** Where the prefix's own tokens start in a prompt `fimPromptIds` wrote (after the marker just before them). */
export function fimPrefixStart(fim: FimTokens, inputIds: readonly number[]): number {
  if (fim.format.order === 'psm') return inputIds.indexOf(fim.prefixId) + 1;
  return inputIds.lastIndexOf(fim.middleId ?? fim.prefixId) + 1;
}

/** A model's declared order (config.json `fim_order`), checked: absent, `psm` or `spm`. */
export function declaredFimOrder(config: Readonly<Record<string, unknown>>, where: string): FimOrder | undefined {
  const order = config.fim_order;
  if (order === undefined) return undefined;
  if (order === 'psm' || order === 'spm') return order;
  throw new InferenceError('unsupported-model', `config.json of ${where} has "fim_order": ${JSON.stringify(order)}; it can be "psm" or "spm".`);
}

/**
 * Context from beyond the text around the cursor (`GenerateRequest.context`): the current file's path and
 * snippets of other files, written before the prompt the way the model family expects. A model with
 * repository-level tokens (Qwen2.5-Coder's `<|file_sep|>`, StarCoder2's `<file_sep>`) gets one separator per
 * file followed by its path and text; any other model gets comments in the file's own syntax (`# Path: a.py`
 * and the snippet's lines commented out), so the snippets do not read as code of the current file.
 *
 * The caller fits the prompt (and suffix) first and passes the tokens left over: the context never crowds the
 * text around the cursor out. The header comes first; snippets follow in the order given (most relevant first)
 * while they fit, and are written least relevant first, so the most relevant sits nearest the prompt.
 */
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import type { PromptContext } from './protocol';

/** Repository-level file separators, as Qwen2.5-Coder and StarCoder2 name them. */
const FILE_SEPARATORS = ['<|file_sep|>', '<file_sep>'] as const;

export type ContextStyle = 'file-separator' | 'comments';

export interface ContextIds {
  /** What goes before the prompt; empty when not even the header fitted. */
  readonly ids: number[];
  readonly style: ContextStyle;
  /** Snippets that fitted. */
  readonly snippets: number;
}

/** The separator token's id when the vocabulary has one. */
export function fileSeparatorId(vocab: ReadonlyMap<string, number>): number | undefined {
  for (const token of FILE_SEPARATORS) {
    const id = vocab.get(token);
    if (id !== undefined) return id;
  }
  return undefined;
}

/** One line as a comment in the file's syntax. */
function commented(line: string, comment: PromptContext['comment']): string {
  const body = line.trimEnd();
  if (comment.close) return body ? `${comment.open} ${body} ${comment.close}` : `${comment.open}${comment.close}`;
  return body ? `${comment.open} ${body}` : comment.open;
}

/** The texts of the header and of each snippet, as the style writes them (each ends with a newline). */
export function contextTexts(context: PromptContext, style: ContextStyle): { header: string; snippets: string[] } {
  const withNewline = (t: string): string => (t.endsWith('\n') ? t : `${t}\n`);
  if (style === 'file-separator') {
    // Each text follows its separator token.
    return { header: `${context.path}\n`, snippets: context.snippets.map((s) => `${s.path}\n${withNewline(s.text)}`) };
  }
  const pathLine = (p: string): string => `${commented(`Path: ${p}`, context.comment)}\n`;
  return {
    header: pathLine(context.path),
    snippets: context.snippets.map((s) => pathLine(s.path) + s.text.replace(/\n$/, '').split('\n').map((l) => `${commented(l, context.comment)}\n`).join('')),
  };
}

/** The context's tokens within `room` tokens (at most `context.maxTokens`). */
export function contextIds(tokenizer: PreTrainedTokenizer, vocab: ReadonlyMap<string, number>, context: PromptContext, room: number): ContextIds {
  const separator = fileSeparatorId(vocab);
  const style: ContextStyle = separator === undefined ? 'comments' : 'file-separator';
  const budget = Math.max(0, Math.min(room, context.maxTokens));
  const encode = (text: string): number[] => [...(separator === undefined ? [] : [separator]), ...(tokenizer.encode(text, { add_special_tokens: false }) as number[])];
  const texts = contextTexts(context, style);
  const header = encode(texts.header);
  if (header.length > budget) return { ids: [], style, snippets: 0 };
  let used = header.length;
  const chosen: number[][] = [];
  for (const snippet of texts.snippets) {
    const ids = fitted(snippet, budget - used, encode);
    if (!ids) continue;
    chosen.push(ids);
    used += ids.length;
  }
  return { ids: [...chosen.reverse().flat(), ...header], style, snippets: chosen.length };
}

/** Fewest lines of a snippet worth sending (with its path line) when it does not fit whole. */
const MIN_SNIPPET_LINES = 3;

/**
 * The snippet's tokens when they fit in `room`, else those of its first lines that fit (found by bisection, each
 * candidate encoded whole, so the count is exact), or undefined when not even its path and first lines fit.
 */
function fitted(snippet: string, room: number, encode: (text: string) => number[]): number[] | undefined {
  const whole = encode(snippet);
  if (whole.length <= room) return whole;
  const lines = snippet.split('\n').slice(0, -1);
  const first = (n: number): number[] => encode(`${lines.slice(0, n).join('\n')}\n`);
  let lo = MIN_SNIPPET_LINES + 1; // the path line and MIN_SNIPPET_LINES of text
  if (lines.length <= lo || first(lo).length > room) return undefined;
  let hi = lines.length - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (first(mid).length <= room) lo = mid;
    else hi = mid - 1;
  }
  return first(lo);
}

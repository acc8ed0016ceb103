/**
 * The messages between the panel hosts (extension side) and their webview scripts (media/), and
 * validators for every message that crosses, in both directions. Nothing from a webview is
 * trusted until it passes these checks.
 */
import type { PackedAttentionMap } from '../analysis/packedAttention';
import type { Alternative, AttentionKind, AttentionMap, LensEntry, Task, TokenTrace } from '../inference/protocol';

// ---- Token probabilities panel -----------------------------------------------------------------

/** One line of tokens: the main text, or a branch that resumes from an alternative. */
export interface TokenSequence {
  readonly id: number;
  /** Branch origin; absent for the main sequence. */
  readonly parent?: { readonly sequenceId: number; readonly tokenIndex: number; readonly alternative: Alternative };
  readonly tokens: readonly TokenTrace[];
  /** What the engine continues from when branching off this sequence (see branching.ts). */
  readonly prompt: string;
  readonly forcedIds: readonly number[];
  readonly status: 'done' | 'running' | 'failed';
  readonly error?: string;
}

export interface TokenPanelData {
  readonly title: string;
  readonly model: string;
  /** `score`: existing text was scored; `generate`: the tokens are a generation's output. */
  readonly mode: 'score' | 'generate';
  /** Prompt (causal) or source text (Seq2Seq) the tokens follow; shown above them. */
  readonly prompt: string;
  readonly sequences: readonly TokenSequence[];
  /** Why branching is not offered; absent when it is. */
  readonly branchUnavailable?: string;
  /** The model source and task branches are generated with. */
  readonly branchModel: string;
  readonly task: Task;
  readonly device: string;
  /**
   * Why the tokens carry no logit lens (the model cannot give one, or it was not loaded for
   * inspection); absent when they do.
   */
  readonly lensUnavailable?: string;
}

export type TokenHostMessage =
  | { readonly type: 'show'; readonly data: TokenPanelData }
  | { readonly type: 'sequence'; readonly sequence: TokenSequence };

export type TokenWebviewMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'branch'; readonly sequenceId: number; readonly tokenIndex: number; readonly alternativeId: number }
  | { readonly type: 'showLog' };

// ---- Attention inspector -----------------------------------------------------------------------

export interface AttentionPanelData {
  readonly title: string;
  readonly model: string;
  readonly maps: readonly AttentionMap[];
  /** Why no maps could be captured; shown instead of the grid. */
  readonly attentionUnavailable?: string;
  /** Query index where generated tokens start (the step slider walks from here); 0 for scored text. */
  readonly outputStart: number;
  /**
   * The texts the tokens spell: the source (encoder, cross-attention keys) and the target (self- or
   * decoder attention, cross-attention queries). Byte-level tokens that split a character are
   * labelled from them (see analysis/tokenLabels.ts).
   */
  readonly sourceText?: string;
  readonly targetText?: string;
}

/** The panel data as sent to the webview: each map's weights packed into one Float32Array. */
export type AttentionPanelPayload = Omit<AttentionPanelData, 'maps'> & { readonly maps: readonly PackedAttentionMap[] };

export type AttentionHostMessage = { readonly type: 'show'; readonly data: AttentionPanelPayload };

export type AttentionWebviewMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'exportPng'; readonly dataUrl: string; readonly name: string }
  | { readonly type: 'exportJson'; readonly mapIndex: number };

// ---- Validators --------------------------------------------------------------------------------

type Obj = Record<string, unknown>;

function isObj(x: unknown): x is Obj {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
function isNum(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}
/** A log-probability: finite, or -Infinity for a token the model gave no chance (a forced one). */
function isLogprob(x: unknown): x is number {
  return isNum(x) || x === -Infinity;
}
function isInt(x: unknown): x is number {
  // Also used as an array item guard.
  return Number.isInteger(x);
}
function isStr(x: unknown, max = 10_000_000): x is string {
  return typeof x === 'string' && x.length <= max;
}
function isArr<T>(x: unknown, item: (v: unknown) => v is T, max = 1_000_000): x is T[] {
  return Array.isArray(x) && x.length <= max && x.every(item);
}

export function isAlternative(x: unknown): x is Alternative {
  return isObj(x) && isInt(x.id) && isStr(x.text, 10_000) && isNum(x.prob);
}

export function isLensEntry(x: unknown): x is LensEntry {
  return isObj(x) && isInt(x.layer) && x.layer >= 0 && isInt(x.rank) && x.rank >= 1 && isNum(x.prob) && isArr(x.top, isAlternative, 1000);
}

export function isTokenTrace(x: unknown): x is TokenTrace {
  return (
    isObj(x) &&
    isInt(x.id) &&
    isStr(x.text, 10_000) &&
    isNum(x.prob) &&
    isLogprob(x.logprob) &&
    isInt(x.rank) &&
    isNum(x.entropy) &&
    isArr(x.top, isAlternative, 1000) &&
    (x.topN === undefined || (isInt(x.topN) && x.topN >= 0 && x.topN <= 1000)) &&
    (x.lens === undefined || isArr(x.lens, isLensEntry, 1000))
  );
}

export function isTask(x: unknown): x is Task {
  if (!isObj(x)) return false;
  if (x.kind === 'generate' || x.kind === 'summarize') return true;
  return x.kind === 'translate' && isStr(x.to, 20);
}

export function isTokenSequence(x: unknown): x is TokenSequence {
  if (!isObj(x) || !isInt(x.id) || !isArr(x.tokens, isTokenTrace)) return false;
  if (!isStr(x.prompt) || !isArr(x.forcedIds, isInt)) return false;
  if (x.status !== 'done' && x.status !== 'running' && x.status !== 'failed') return false;
  if (x.error !== undefined && !isStr(x.error, 10_000)) return false;
  if (x.parent !== undefined) {
    const p = x.parent;
    if (!isObj(p) || !isInt(p.sequenceId) || !isInt(p.tokenIndex) || !isAlternative(p.alternative)) return false;
  }
  return true;
}

export function isTokenPanelData(x: unknown): x is TokenPanelData {
  return (
    isObj(x) &&
    isStr(x.title, 1000) &&
    isStr(x.model, 10_000) &&
    (x.mode === 'score' || x.mode === 'generate') &&
    isStr(x.prompt) &&
    isArr(x.sequences, isTokenSequence, 10_000) &&
    x.sequences.length > 0 &&
    (x.branchUnavailable === undefined || isStr(x.branchUnavailable, 10_000)) &&
    isStr(x.branchModel, 10_000) &&
    isTask(x.task) &&
    isStr(x.device, 1000) &&
    (x.lensUnavailable === undefined || isStr(x.lensUnavailable, 10_000))
  );
}

export function isTokenHostMessage(x: unknown): x is TokenHostMessage {
  if (!isObj(x)) return false;
  if (x.type === 'show') return isTokenPanelData(x.data);
  if (x.type === 'sequence') return isTokenSequence(x.sequence);
  return false;
}

export function isTokenWebviewMessage(x: unknown): x is TokenWebviewMessage {
  if (!isObj(x)) return false;
  switch (x.type) {
    case 'ready':
    case 'showLog':
      return true;
    case 'branch':
      return isInt(x.sequenceId) && x.sequenceId >= 0 && isInt(x.tokenIndex) && x.tokenIndex >= 0 && isInt(x.alternativeId) && x.alternativeId >= 0;
    default:
      return false;
  }
}

const ATTENTION_KINDS: readonly AttentionKind[] = ['self', 'encoder', 'decoder', 'cross', 'alignment'];

/** Checks the whole layers × heads × queries × keys block: every row the same length, every value finite. */
export function isAttentionMap(x: unknown): x is AttentionMap {
  if (!isObj(x) || !ATTENTION_KINDS.includes(x.kind as AttentionKind)) return false;
  if (!isArr(x.queryTokens, (v): v is string => isStr(v, 10_000)) || !isArr(x.keyTokens, (v): v is string => isStr(v, 10_000))) return false;
  const q = x.queryTokens.length;
  const k = x.keyTokens.length;
  const w = x.weights;
  if (!Array.isArray(w) || w.length === 0 || w.length > 1000) return false;
  let heads = -1;
  for (const layer of w) {
    if (!Array.isArray(layer) || layer.length === 0) return false;
    if (heads < 0) heads = layer.length;
    if (layer.length !== heads) return false;
    for (const head of layer) {
      if (!Array.isArray(head) || head.length !== q) return false;
      // Indexed loops: a 500-token map of a small GPT is millions of weights.
      for (let i = 0; i < q; i++) {
        const row: unknown = head[i];
        if (!Array.isArray(row) || row.length !== k) return false;
        for (let j = 0; j < k; j++) if (!Number.isFinite(row[j])) return false;
      }
    }
  }
  return true;
}

/** A packed map: the shape matches the tokens and the Float32Array, every weight finite. */
export function isPackedAttentionMap(x: unknown): x is PackedAttentionMap {
  if (!isObj(x) || !ATTENTION_KINDS.includes(x.kind as AttentionKind)) return false;
  if (!isArr(x.queryTokens, (v): v is string => isStr(v, 10_000)) || !isArr(x.keyTokens, (v): v is string => isStr(v, 10_000))) return false;
  const s = x.shape;
  if (!isObj(s) || ![s.layers, s.heads, s.queries, s.keys].every((n) => isInt(n) && (n as number) >= 1)) return false;
  const shape = s as { layers: number; heads: number; queries: number; keys: number };
  if (shape.layers > 1000 || shape.heads > 1000 || shape.queries !== x.queryTokens.length || shape.keys !== x.keyTokens.length) return false;
  const w = x.weights;
  if (!(w instanceof Float32Array) || w.length !== shape.layers * shape.heads * shape.queries * shape.keys) return false;
  for (let i = 0; i < w.length; i++) if (!Number.isFinite(w[i])) return false;
  return true;
}

/** The fields the nested and the packed panel data share. */
function isAttentionPanelFields(x: Obj, isMap: (m: unknown) => boolean): boolean {
  return (
    isStr(x.title, 1000) &&
    isStr(x.model, 10_000) &&
    Array.isArray(x.maps) &&
    x.maps.length <= 64 &&
    x.maps.every(isMap) &&
    (x.attentionUnavailable === undefined || isStr(x.attentionUnavailable, 10_000)) &&
    isInt(x.outputStart) &&
    x.outputStart >= 0 &&
    (x.sourceText === undefined || isStr(x.sourceText, 1_000_000)) &&
    (x.targetText === undefined || isStr(x.targetText, 1_000_000))
  );
}

export function isAttentionPanelData(x: unknown): x is AttentionPanelData {
  return isObj(x) && isAttentionPanelFields(x, isAttentionMap);
}

export function isAttentionPanelPayload(x: unknown): x is AttentionPanelPayload {
  return isObj(x) && isAttentionPanelFields(x, isPackedAttentionMap);
}

export function isAttentionHostMessage(x: unknown): x is AttentionHostMessage {
  return isObj(x) && x.type === 'show' && isAttentionPanelPayload(x.data);
}

export function isAttentionWebviewMessage(x: unknown): x is AttentionWebviewMessage {
  if (!isObj(x)) return false;
  switch (x.type) {
    case 'ready':
      return true;
    case 'exportPng':
      return isStr(x.dataUrl, 50_000_000) && x.dataUrl.startsWith('data:image/png;base64,') && isStr(x.name, 200);
    case 'exportJson':
      return isInt(x.mapIndex) && x.mapIndex >= 0;
    default:
      return false;
  }
}

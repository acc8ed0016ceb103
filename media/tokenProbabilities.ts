/**
 * Token probabilities panel (webview side). Renders each token coloured by rank bucket (GLTR) or
 * probability; hovering or focusing one shows its numbers and the alternatives, and choosing an
 * alternative asks the host for a branch, shown beside the original. Below the text: GLTR's
 * histograms (the rank buckets' thresholds are adjustable and kept in the webview's state) and the
 * logit lens grid when the trace has one (or why it has none).
 *
 * For tests the DOM carries: `#token-panel[data-state][data-token-count][data-sequence-count]`,
 * `[data-testid=token][data-seq][data-index][data-rank]`, `[data-testid=alternative]`,
 * `[data-testid=branch][data-status][data-token-count]`, `[data-testid=totals]`, `[data-testid=served-note][data-top-n]`,
 * `[data-testid=threshold-top10|threshold-top100|threshold-top1000]` (inputs); the histograms and the
 * lens carry their own (gltrHistogramsView.ts, logitLensView.ts).
 */
import { upsertSequence } from '../src/analysis/branching';
import { displayToken, formatProb, probabilityColor, RANK_BUCKETS, traceTotals } from '../src/analysis/gltr';
import { bucketLabels, bucketOf, DEFAULT_THRESHOLDS, normalizeThresholds, rankHistogram, type RankThresholds } from '../src/analysis/gltrHistograms';
import { lensLayerCount } from '../src/analysis/logitLens';
import { isTokenHostMessage, isTokenPanelData, type TokenPanelData, type TokenSequence, type TokenWebviewMessage } from '../src/webviews/messages';
import type { TokenTrace } from '../src/inference/protocol';
import { renderHistograms } from './gltrHistogramsView';
import { LogitLensView, lensUnavailableNotice } from './logitLensView';
import { el, vscodeApi } from './vscodeApi';

type ColorMode = 'rank' | 'prob';

interface PanelState {
  readonly data?: TokenPanelData;
  readonly colorMode: ColorMode;
  readonly thresholds?: RankThresholds;
  /** The sequence the logit lens shows (the main one, or a branch), the token whose column it highlights, and how far the grid is scrolled. */
  readonly lensSequence?: number;
  readonly lensSelected?: number;
  readonly lensScroll?: number;
}

const api = vscodeApi<TokenWebviewMessage, PanelState>();
const root = document.getElementById('token-panel')!;
const saved = api.getState();
let data: TokenPanelData | undefined = saved && isTokenPanelData(saved.data) ? saved.data : undefined;
let colorMode: ColorMode = saved?.colorMode === 'prob' ? 'prob' : 'rank';
let thresholds: RankThresholds = normalizeThresholds(saved?.thresholds ?? DEFAULT_THRESHOLDS);
let lensSequence = typeof saved?.lensSequence === 'number' ? saved.lensSequence : 0;
let lensSelected = typeof saved?.lensSelected === 'number' ? saved.lensSelected : 0;
let lensScroll = typeof saved?.lensScroll === 'number' ? saved.lensScroll : 0;
let lensView: LogitLensView | undefined;
let scrollSaveTimer: ReturnType<typeof setTimeout> | undefined;
const lensHost = el('div', { class: 'lens-host' });

const tooltip = el('div', { class: 'tooltip', role: 'dialog', 'aria-label': 'Token details', 'data-testid': 'token-tooltip', hidden: true });
document.body.append(tooltip);
let tooltipFor: HTMLElement | undefined;
let hideTimer: ReturnType<typeof setTimeout> | undefined;

function save(): void {
  api.setState({ data, colorMode, thresholds, lensSequence, lensSelected, lensScroll });
}

function sequenceById(id: number): TokenSequence | undefined {
  return data?.sequences.find((s) => s.id === id);
}

function tokenSpan(t: TokenTrace, seq: number, index: number, branched: boolean): HTMLSpanElement {
  const bucket = bucketOf(t.rank, thresholds);
  const span = el('span', {
    class: `tok${colorMode === 'rank' ? ` b-${bucket}` : ''}${branched ? ' branched' : ''}`,
    'data-testid': 'token',
    'data-seq': seq,
    'data-index': index,
    'data-rank': t.rank,
    'data-bucket': bucket,
    tabindex: -1,
    'aria-label': `${JSON.stringify(t.text)}: probability ${formatProb(t.prob)}, rank ${rankText(t)}`,
    text: displayToken(t.text),
  });
  if (colorMode === 'prob') span.style.backgroundColor = probabilityColor(t.prob);
  return span;
}

function renderTokens(seq: TokenSequence, container: HTMLElement): void {
  const branchedAt = new Set(data!.sequences.filter((s) => s.parent?.sequenceId === seq.id).map((s) => s.parent!.tokenIndex));
  const frag = document.createDocumentFragment();
  seq.tokens.forEach((t, i) => frag.append(tokenSpan(t, seq.id, i, branchedAt.has(i))));
  container.append(frag);
}

function contextBefore(seq: TokenSequence, index: number): string {
  return seq.tokens
    .slice(Math.max(0, index - 8), index)
    .map((t) => t.text)
    .join('');
}

function renderBranch(seq: TokenSequence): HTMLElement {
  const p = seq.parent!;
  const parent = sequenceById(p.sequenceId);
  const old = parent?.tokens[p.tokenIndex];
  const body = el('div', { class: 'tokens' }, el('span', { class: 'context', text: `…${contextBefore(parent ?? seq, p.tokenIndex)}` }), el('span', { class: 'pivot', 'data-testid': 'branch-pivot', text: displayToken(p.alternative.text) }));
  renderTokens(seq, body);
  const status =
    seq.status === 'running'
      ? el('span', { class: 'muted', text: 'generating…' })
      : seq.status === 'failed'
        ? el('span', { class: 'error', text: seq.error ?? 'failed' })
        : el('span', { class: 'muted', text: `${seq.tokens.length} tokens · log-prob ${traceTotals(seq.tokens).logprob.toFixed(2)}` });
  const card = el(
    'section',
    { class: 'branch', 'data-testid': 'branch', 'data-branch-id': seq.id, 'data-status': seq.status, 'data-token-count': seq.tokens.length, 'aria-busy': seq.status === 'running' },
    el('header', {}, el('b', { text: `Branch at token ${p.tokenIndex + 1}` }), el('span', { class: 'muted', text: `${JSON.stringify(old?.text ?? '')} → ${JSON.stringify(p.alternative.text)} (${formatProb(p.alternative.prob)})` }), status),
    body,
  );
  if (seq.status === 'failed') card.append(el('button', { 'data-action': 'showLog', text: 'Show log' }));
  return card;
}

function thresholdInput(key: keyof RankThresholds, label: string): HTMLElement {
  const input = el('input', { type: 'number', min: 1, step: 1, value: thresholds[key], 'data-testid': `threshold-${key}`, 'data-threshold': key, 'aria-label': label });
  return el('label', { class: 'threshold' }, el('span', { class: 'muted', text: label }), input);
}

function render(): void {
  hideTooltip(true);
  root.replaceChildren();
  if (!data) {
    root.dataset.state = 'empty';
    root.append(el('p', { class: 'placeholder', text: 'Run “LM Lens: Inspect Token Probabilities” on a selection, or after a generation.' }));
    return;
  }
  const main = data.sequences[0]!;
  const branches = data.sequences.slice(1);
  const totals = traceTotals(main.tokens);
  const counts = rankHistogram(main.tokens, thresholds);
  const labels = bucketLabels(thresholds);
  root.dataset.state = 'ready';
  root.dataset.tokenCount = String(main.tokens.length);
  root.dataset.sequenceCount = String(data.sequences.length);
  root.dataset.colorMode = colorMode;

  root.append(
    el('h2', { text: data.title || 'Token probabilities' }),
    el('div', { class: 'muted', text: `${data.model} · ${data.device} · ${data.mode === 'score' ? 'scored text' : 'generation'}` }),
  );
  const legend = el('div', { class: 'legend', 'aria-label': 'Legend' });
  if (colorMode === 'rank') {
    for (const b of RANK_BUCKETS) legend.append(el('span', { 'data-testid': `legend-${b.bucket}` }, el('span', { class: `swatch b-${b.bucket}` }), `${labels[b.bucket]}: ${counts[b.bucket]}`));
  } else {
    for (const p of [0.9, 0.5, 0.1, 0.01, 0.001]) {
      const sw = el('span', { class: 'swatch' });
      sw.style.backgroundColor = probabilityColor(p);
      legend.append(el('span', {}, sw, `p ≥ ${formatProb(p)}`));
    }
  }
  root.append(
    el(
      'div',
      { class: 'toolbar', role: 'toolbar', 'aria-label': 'Colouring' },
      el('span', { text: 'Colour by' }),
      el('button', { 'data-testid': 'color-mode-rank', 'data-action': 'rank', 'aria-pressed': String(colorMode === 'rank'), text: 'rank (GLTR)' }),
      el('button', { 'data-testid': 'color-mode-prob', 'data-action': 'prob', 'aria-pressed': String(colorMode === 'prob'), text: 'probability' }),
      el('span', { class: 'spacer' }),
      legend,
    ),
    el(
      'div',
      { class: 'toolbar thresholds', role: 'group', 'aria-label': 'Rank bucket thresholds' },
      el('span', { text: 'Buckets: rank ≤' }),
      thresholdInput('top10', 'green up to'),
      thresholdInput('top100', 'yellow up to'),
      thresholdInput('top1000', 'red up to'),
      el('span', { class: 'muted', text: '· purple beyond' }),
    ),
    el(
      'div',
      { class: 'totals', 'data-testid': 'totals', 'data-logprob': totals.logprob.toFixed(4), 'data-perplexity': totals.perplexity.toFixed(4) },
      el('div', {}, el('span', { class: 'muted', text: 'tokens' }), el('b', { text: String(totals.count) })),
      el('div', {}, el('span', { class: 'muted', text: 'log-probability' }), el('b', { text: totals.logprob.toFixed(2) })),
      el('div', {}, el('span', { class: 'muted', text: 'perplexity' }), el('b', { text: totals.perplexity.toFixed(2) })),
      el('div', {}, el('span', { class: 'muted', text: 'mean entropy' }), el('b', { text: `${main.tokens.some((t) => t.topN !== undefined) ? '≥ ' : ''}${totals.meanEntropy.toFixed(2)} nats` })),
    ),
  );
  // A served trace: say which numbers are the server's exact ones and which come from its top N only.
  const servedTopN = main.tokens.find((t) => t.topN !== undefined)?.topN;
  if (servedTopN !== undefined) {
    root.append(
      el('p', {
        class: 'muted',
        'data-testid': 'served-note',
        'data-top-n': String(servedTopN),
        text: `Served: probabilities and log-probabilities are the server's exact numbers; ranks are exact within the server's top ${servedTopN} and shown as "> ${servedTopN}" beyond; entropies are lower bounds from the top ${servedTopN}.`,
      }),
    );
  }
  if (data.branchUnavailable) root.append(el('p', { class: 'muted', text: `Branching unavailable: ${data.branchUnavailable}` }));
  else root.append(el('p', { class: 'muted', text: 'Hover or focus a token (arrow keys move, Enter opens) and pick an alternative to branch from it.' }));

  const mainBox = el('div', { class: 'tokens', 'data-testid': 'main-sequence', role: 'group', 'aria-label': 'Tokens' });
  const seq2seq = data.task.kind !== 'generate';
  const mainColumn = el('div', {});
  if (seq2seq) {
    // The source of a translation or summary is the encoder's input, not text the output continues.
    mainColumn.append(el('h2', { text: 'Source' }), el('div', { class: 'tokens prompt', 'data-testid': 'source', text: data.prompt }), el('h2', { text: 'Output' }));
  } else {
    // A long prompt is shown by its end, which is what the tokens continue.
    const prompt = data.prompt.length > 400 ? `…${data.prompt.slice(-400)}` : data.prompt;
    if (prompt) mainBox.append(el('span', { class: 'prompt', 'data-testid': 'prompt', title: 'Prompt', text: prompt }));
    mainColumn.append(el('h2', { text: 'Text' }));
  }
  renderTokens(main, mainBox);
  mainColumn.append(mainBox);
  const columns = el('div', { class: `columns${branches.length ? ' with-branches' : ''}` }, mainColumn);
  if (branches.length) {
    const col = el('div', { 'data-testid': 'branches' }, el('h2', { text: `Branches (${branches.length})` }));
    for (const b of branches) col.append(renderBranch(b));
    columns.append(col);
  }
  root.append(columns);
  root.append(el('h2', { text: 'GLTR histograms' }), renderHistograms(main.tokens, thresholds));
  root.append(lensHost);
  renderLens();
  const first = root.querySelector<HTMLElement>('[data-testid=token]');
  if (first) first.tabIndex = 0;
}

/** The logit lens of the sequence it follows (the main text unless a branch with a lens was picked), or why there is none. */
function renderLens(): void {
  lensView?.dispose();
  lensView = undefined;
  lensHost.replaceChildren();
  if (!data) return;
  let seq = sequenceById(lensSequence);
  if (!seq || lensLayerCount(seq.tokens) === 0) {
    seq = data.sequences[0]!;
    lensSequence = seq.id;
  }
  if (lensLayerCount(seq.tokens) === 0) {
    if (data.lensUnavailable) lensHost.append(lensUnavailableNotice(data.lensUnavailable));
    return;
  }
  const shown = seq;
  lensView = new LogitLensView({
    tokens: shown.tokens,
    title: shown.parent ? `branch at token ${shown.parent.tokenIndex + 1}` : 'text',
    sequenceId: shown.id,
    selected: lensSelected,
    scrollLeft: lensScroll,
    onSelect: (index) => {
      selectLensColumn(shown.id, index);
      const tok = root.querySelector<HTMLElement>(`[data-testid=token][data-seq="${shown.id}"][data-index="${index}"]`);
      if (tok) focusToken(tok, false);
    },
    onScroll: (left) => {
      lensScroll = left;
      // The state holds the whole trace: write it once the scrolling pauses, not on every frame.
      if (scrollSaveTimer) clearTimeout(scrollSaveTimer);
      scrollSaveTimer = setTimeout(save, 300);
    },
  });
  lensHost.append(lensView.element);
  lensView.attach();
}

function selectLensColumn(seq: number, index: number): void {
  if (seq !== lensSequence) {
    if (!lensLayerCount(sequenceById(seq)?.tokens ?? [])) return;
    lensSequence = seq;
    lensSelected = index;
    lensScroll = 0;
    save();
    renderLens();
    return;
  }
  if (!lensView || index === lensSelected) return;
  lensSelected = index;
  lensView.select(index);
  save();
}

// ---- Tooltip ------------------------------------------------------------------------------------

function tokenOf(node: HTMLElement): { seq: TokenSequence; index: number; token: TokenTrace } | undefined {
  const seq = sequenceById(Number(node.dataset.seq));
  const index = Number(node.dataset.index);
  const token = seq?.tokens[index];
  return seq && token ? { seq, index, token } : undefined;
}

function showTooltip(node: HTMLElement): void {
  const found = tokenOf(node);
  if (!found) return;
  if (hideTimer) clearTimeout(hideTimer);
  tooltipFor?.classList.remove('selected');
  tooltipFor = node;
  node.classList.add('selected');
  const { token, seq, index } = found;
  const canBranch = !data?.branchUnavailable && seq.status === 'done';
  const list = el('ol', { 'aria-label': 'Alternatives' });
  for (const alt of token.top) {
    const isActual = alt.id === token.id;
    const button = el(
      'button',
      {
        class: isActual ? 'actual' : undefined,
        'data-testid': 'alternative',
        'data-alternative-id': alt.id,
        'data-seq': seq.id,
        'data-index': index,
        disabled: !canBranch || isActual,
        title: isActual ? 'The token in the text' : 'Branch: continue from this token',
      },
      el('span', { text: JSON.stringify(alt.text) }),
      el('span', { text: formatProb(alt.prob) }),
    );
    const bar = el('div', { class: 'bar' });
    bar.style.width = `${Math.max(1, Math.round(alt.prob * 100))}%`;
    list.append(el('li', {}, button, bar));
  }
  tooltip.replaceChildren(
    el('div', { text: JSON.stringify(token.text) }),
    el(
      'div',
      { class: 'stats' },
      el('span', { class: 'muted', text: 'probability' }),
      el('span', { 'data-testid': 'tooltip-prob', text: formatProb(token.prob) }),
      el('span', { class: 'muted', text: 'rank' }),
      el('span', { 'data-testid': 'tooltip-rank', text: rankText(token) }),
      el('span', { class: 'muted', text: 'log-prob' }),
      el('span', { text: token.logprob.toFixed(3) }),
      el('span', { class: 'muted', text: 'entropy' }),
      // A served token's entropy comes from the server's top N only (the rest as one outcome): a lower bound.
      el('span', { text: token.topN !== undefined ? `≥ ${token.entropy.toFixed(3)} nats (from the top ${token.topN})` : `${token.entropy.toFixed(3)} nats` }),
    ),
    token.top.length ? list : el('div', { class: 'muted', text: 'No alternatives recorded.' }),
  );
  tooltip.hidden = false;
  const r = node.getBoundingClientRect();
  const w = tooltip.offsetWidth;
  const h = tooltip.offsetHeight;
  const left = Math.max(4, Math.min(window.innerWidth - w - 4, r.left));
  const top = r.bottom + 4 + h > window.innerHeight ? Math.max(4, r.top - h - 4) : r.bottom + 4;
  tooltip.style.left = `${left}px`;
  tooltip.style.top = `${top}px`;
}

function hideTooltip(now = false): void {
  if (hideTimer) clearTimeout(hideTimer);
  const hide = (): void => {
    tooltip.hidden = true;
    tooltipFor?.classList.remove('selected');
    tooltipFor = undefined;
  };
  if (now) hide();
  else hideTimer = setTimeout(hide, 250);
}

function focusToken(node: HTMLElement, focus = true): void {
  root.querySelectorAll<HTMLElement>('[data-testid=token][tabindex="0"]').forEach((t) => (t.tabIndex = -1));
  node.tabIndex = 0;
  if (focus) node.focus();
}

// ---- Events -------------------------------------------------------------------------------------

root.addEventListener('mouseover', (e) => {
  const tok = (e.target as HTMLElement).closest<HTMLElement>('[data-testid=token]');
  if (tok) showTooltip(tok);
});
root.addEventListener('mouseout', (e) => {
  if ((e.target as HTMLElement).closest('[data-testid=token]')) hideTooltip();
});
root.addEventListener('focusin', (e) => {
  const tok = (e.target as HTMLElement).closest<HTMLElement>('[data-testid=token]');
  if (!tok) return;
  showTooltip(tok);
  selectLensColumn(Number(tok.dataset.seq), Number(tok.dataset.index));
});

// Thresholds apply when committed (Enter or leaving the field), not on every keystroke.
root.addEventListener('change', (e) => {
  const input = (e.target as HTMLElement).closest<HTMLInputElement>('input[data-threshold]');
  if (!input) return;
  const key = input.dataset.threshold as keyof RankThresholds;
  if (!Number.isFinite(input.valueAsNumber)) {
    // An emptied or unreadable field keeps the threshold it had.
    input.value = String(thresholds[key]);
    return;
  }
  thresholds = normalizeThresholds({ ...thresholds, [key]: input.valueAsNumber });
  save();
  render();
  root.querySelector<HTMLInputElement>(`input[data-threshold="${key}"]`)?.focus();
});
tooltip.addEventListener('mouseenter', () => hideTimer && clearTimeout(hideTimer));
tooltip.addEventListener('mouseleave', () => hideTooltip());

root.addEventListener('click', (e) => {
  const target = e.target as HTMLElement;
  const action = target.closest<HTMLElement>('[data-action]')?.dataset.action;
  if (action === 'rank' || action === 'prob') {
    colorMode = action;
    save();
    render();
  } else if (action === 'showLog') {
    api.postMessage({ type: 'showLog' });
  } else {
    const tok = target.closest<HTMLElement>('[data-testid=token]');
    if (tok) focusToken(tok);
  }
});

tooltip.addEventListener('click', (e) => {
  const button = (e.target as HTMLElement).closest<HTMLButtonElement>('[data-testid=alternative]');
  if (!button || button.disabled) return;
  api.postMessage({ type: 'branch', sequenceId: Number(button.dataset.seq), tokenIndex: Number(button.dataset.index), alternativeId: Number(button.dataset.alternativeId) });
  const back = tooltipFor;
  hideTooltip(true);
  back?.focus();
});

root.addEventListener('keydown', (e) => {
  const tok = (e.target as HTMLElement).closest<HTMLElement>('[data-testid=token]');
  if (!tok) return;
  const all = Array.from(root.querySelectorAll<HTMLElement>(`[data-testid=token][data-seq="${tok.dataset.seq}"]`));
  const i = all.indexOf(tok);
  let next: HTMLElement | undefined;
  if (e.key === 'ArrowRight') next = all[i + 1];
  else if (e.key === 'ArrowLeft') next = all[i - 1];
  else if (e.key === 'Home') next = all[0];
  else if (e.key === 'End') next = all[all.length - 1];
  else if (e.key === 'Enter' || e.key === ' ') {
    showTooltip(tok);
    tooltip.querySelector<HTMLButtonElement>('[data-testid=alternative]:not([disabled])')?.focus();
    e.preventDefault();
    return;
  } else if (e.key === 'Escape') {
    hideTooltip(true);
    return;
  } else return;
  e.preventDefault();
  if (next) focusToken(next);
});

tooltip.addEventListener('keydown', (e) => {
  const buttons = Array.from(tooltip.querySelectorAll<HTMLButtonElement>('[data-testid=alternative]:not([disabled])'));
  const i = buttons.indexOf(document.activeElement as HTMLButtonElement);
  if (e.key === 'Escape') {
    const back = tooltipFor;
    hideTooltip(true);
    back?.focus();
  } else if (e.key === 'ArrowDown') buttons[Math.min(buttons.length - 1, i + 1)]?.focus();
  else if (e.key === 'ArrowUp') buttons[Math.max(0, i - 1)]?.focus();
  else return;
  e.preventDefault();
});

function sameIds(a: readonly TokenTrace[] | undefined, b: readonly TokenTrace[] | undefined): boolean {
  return !!a && !!b && a.length === b.length && a.every((t, i) => t.id === b[i]!.id);
}

window.addEventListener('message', (e: MessageEvent<unknown>) => {
  const message = e.data;
  if (!isTokenHostMessage(message)) return;
  if (message.type === 'show') {
    // The host re-sends the same data when a hidden panel is shown again: keep the lens where it was then.
    if (!sameIds(data?.sequences[0]?.tokens, message.data.sequences[0]?.tokens)) {
      lensSequence = 0;
      lensSelected = 0;
      lensScroll = 0;
    }
    data = message.data;
  } else if (data) {
    data = { ...data, sequences: upsertSequence(data.sequences, message.sequence) };
  }
  save();
  render();
});

render();
api.postMessage({ type: 'ready' });

/** The rank as shown: a served token beyond the server's top N is "> N" (its exact rank is unknown). */
function rankText(t: TokenTrace): string {
  return t.topN !== undefined && t.rank > t.topN ? `> ${t.topN} (the server lists its top ${t.topN})` : String(t.rank);
}

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadModule } from './bundle.mjs';

const messages = await loadModule('src/webviews/messages.ts');
const gltr = await loadModule('src/analysis/gltr.ts');
const heatmap = await loadModule('src/analysis/heatmap.ts');
const { branchPoint, upsertSequence, withoutForced } = await loadModule('src/analysis/branching.ts');
const html = await loadModule('src/webviews/html.ts');
const languages = await loadModule('src/inference/protocol.ts');
const packedAttention = await loadModule('src/analysis/packedAttention.ts');

const tok = (id, text, rank = 1, prob = 0.5) => ({ id, text, prob, logprob: Math.log(prob), rank, entropy: 1.5, top: [{ id, text, prob }, { id: id + 100, text: `${text}'`, prob: prob / 2 }] });
const seq = (tokens, extra = {}) => ({ id: 0, tokens, prompt: '', forcedIds: [], status: 'done', ...extra });
const panelData = (extra = {}) => ({
  title: 't',
  model: 'gpt2-code',
  mode: 'score',
  prompt: '',
  sequences: [seq([tok(1, 'Hello'), tok(2, ' world', 12, 0.01)])],
  branchModel: 'gpt2-code',
  task: { kind: 'generate' },
  device: 'cpu',
  ...extra,
});

test('webview → host messages are validated', () => {
  const ok = messages.isTokenWebviewMessage;
  assert.ok(ok({ type: 'ready' }));
  assert.ok(ok({ type: 'showLog' }));
  assert.ok(ok({ type: 'branch', sequenceId: 0, tokenIndex: 3, alternativeId: 42 }));
  assert.ok(!ok({ type: 'branch', sequenceId: 0, tokenIndex: -1, alternativeId: 42 }));
  assert.ok(!ok({ type: 'branch', sequenceId: 0, tokenIndex: 1.5, alternativeId: 42 }));
  assert.ok(!ok({ type: 'branch', sequenceId: '0', tokenIndex: 1, alternativeId: 42 }));
  assert.ok(!ok({ type: 'runCommand', command: 'rm -rf' }));
  assert.ok(!ok(null));
  assert.ok(!ok([]));
  const att = messages.isAttentionWebviewMessage;
  assert.ok(att({ type: 'exportPng', dataUrl: 'data:image/png;base64,AAAA', name: 'x' }));
  assert.ok(!att({ type: 'exportPng', dataUrl: 'file:///etc/passwd', name: 'x' }));
  assert.ok(att({ type: 'exportJson', mapIndex: 0 }));
  assert.ok(!att({ type: 'exportJson', mapIndex: -2 }));
});

test('host → webview data is validated, including nested tokens and tasks', () => {
  assert.ok(messages.isTokenPanelData(panelData()));
  assert.ok(messages.isTokenHostMessage({ type: 'show', data: panelData() }));
  assert.ok(!messages.isTokenPanelData(panelData({ sequences: [] })));
  assert.ok(!messages.isTokenPanelData(panelData({ task: { kind: 'translate' } })));
  assert.ok(messages.isTokenPanelData(panelData({ task: { kind: 'translate', to: 'de' } })));
  const bad = panelData();
  bad.sequences[0].tokens[0].top[0].prob = 'high';
  assert.ok(!messages.isTokenPanelData(bad));
  assert.ok(messages.isTokenHostMessage({ type: 'sequence', sequence: seq([], { id: 1, status: 'running', parent: { sequenceId: 0, tokenIndex: 1, alternative: { id: 5, text: 'x', prob: 0.1 } } }) }));
  assert.ok(!messages.isTokenHostMessage({ type: 'sequence', sequence: seq([], { status: 'weird' }) }));
});

test('logit lens entries on tokens and the reason a lens is missing are validated', () => {
  const lens = [{ layer: 0, rank: 3, prob: 0.1, top: [{ id: 4, text: ' =', prob: 0.4 }] }, { layer: 1, rank: 1, prob: 0.5, top: [{ id: 1, text: 'Hello', prob: 0.5 }] }];
  const withLens = panelData({ sequences: [seq([{ ...tok(1, 'Hello'), lens }])] });
  assert.ok(messages.isTokenPanelData(withLens));
  assert.ok(messages.isLensEntry(lens[0]));
  assert.ok(!messages.isLensEntry({ ...lens[0], rank: 0 }), 'ranks start at 1');
  assert.ok(!messages.isLensEntry({ ...lens[0], layer: -1 }));
  assert.ok(!messages.isLensEntry({ ...lens[0], prob: NaN }));
  assert.ok(!messages.isLensEntry({ ...lens[0], top: [{ id: 4, text: 5, prob: 0.4 }] }));
  assert.ok(!messages.isTokenPanelData(panelData({ sequences: [seq([{ ...tok(1, 'Hello'), lens: {} }])] })), 'lens must be an array');
  assert.ok(!messages.isTokenPanelData(panelData({ sequences: [seq([{ ...tok(1, 'Hello'), lens: [{ ...lens[0], top: 'x' }] }])] })));
  assert.ok(messages.isTokenPanelData(panelData({ lensUnavailable: 'The logit lens needs a transformer decoder; this model is an RNN.' })));
  assert.ok(!messages.isTokenPanelData(panelData({ lensUnavailable: 42 })));
});

test('attention maps must be consistent layers × heads × queries × keys', () => {
  const map = { kind: 'self', queryTokens: ['a', 'b'], keyTokens: ['a', 'b'], weights: [[[[1, 0], [0.5, 0.5]]], [[[1, 0], [0.2, 0.8]]]] };
  assert.ok(messages.isAttentionMap(map));
  assert.ok(!messages.isAttentionMap({ ...map, kind: 'sideways' }));
  assert.ok(!messages.isAttentionMap({ ...map, keyTokens: ['a'] }));
  assert.ok(!messages.isAttentionMap({ ...map, weights: [[[[1, 0], [0.5]]]] }));
  assert.ok(!messages.isAttentionMap({ ...map, weights: [[[[1, 0], [NaN, 1]]]] }));
  assert.ok(!messages.isAttentionMap({ ...map, weights: [[[[1, 0], [0, 1]]], [[[1, 0], [0, 1]], [[1, 0], [0, 1]]]] }), 'heads differ per layer');
  const data = { title: 't', model: 'm', maps: [map], outputStart: 0 };
  assert.ok(messages.isAttentionPanelData(data));
  // To the webview the weights travel packed in a Float32Array (binary, not JSON).
  const packed = { ...data, maps: [packedAttention.packMap(map)] };
  assert.ok(messages.isAttentionHostMessage({ type: 'show', data: packed }));
  assert.ok(!messages.isAttentionHostMessage({ type: 'show', data }), 'nested weights are not what the host sends');
  assert.ok(messages.isAttentionPanelData({ ...data, maps: [], attentionUnavailable: 'no tap' }));
  assert.ok(!messages.isAttentionPanelData({ ...data, outputStart: -1 }));
  // The texts the tokens spell (for labels of byte-level tokens) are optional strings.
  assert.ok(messages.isAttentionPanelData({ ...data, sourceText: 'Open the file', targetText: 'Öffne die Datei' }));
  assert.ok(!messages.isAttentionPanelData({ ...data, targetText: 42 }));
  assert.ok(!messages.isAttentionPanelData({ ...data, sourceText: ['a'] }));
  assert.ok(!messages.isAttentionMap({ ...map, weights: [[[[1, 0], ['0.5', 0.5]]], [[[1, 0], [0.2, 0.8]]]] }), 'a weight that is a string');
  assert.ok(!messages.isAttentionMap({ ...map, weights: [[[[1, 0], [Infinity, 0.5]]], [[[1, 0], [0.2, 0.8]]]] }));
});

test('rank buckets follow GLTR: top 10 / 100 / 1000 / beyond', () => {
  assert.deepEqual([1, 10, 11, 100, 101, 1000, 1001, 50000].map(gltr.rankBucket), ['top10', 'top10', 'top100', 'top100', 'top1000', 'top1000', 'beyond', 'beyond']);
  assert.deepEqual(gltr.bucketCounts([{ rank: 1 }, { rank: 2 }, { rank: 500 }, { rank: 5000 }]), { top10: 2, top100: 0, top1000: 1, beyond: 1 });
});

test('probability colours go from red to green on a log scale', () => {
  const hue = (c) => Number(/hsla\((\d+)/.exec(c)[1]);
  assert.equal(hue(gltr.probabilityColor(1)), 120);
  assert.equal(hue(gltr.probabilityColor(1e-9)), 0);
  assert.ok(hue(gltr.probabilityColor(0.1)) > hue(gltr.probabilityColor(0.001)));
});

test('totals: log-probability, perplexity and mean entropy', () => {
  const t = gltr.traceTotals([{ logprob: Math.log(0.5), entropy: 1 }, { logprob: Math.log(0.25), entropy: 2 }]);
  assert.equal(t.count, 2);
  assert.ok(Math.abs(t.logprob - Math.log(0.125)) < 1e-12);
  assert.ok(Math.abs(t.perplexity - Math.sqrt(8)) < 1e-9);
  assert.equal(t.meanEntropy, 1.5);
  assert.equal(gltr.traceTotals([]).perplexity, 1);
});

test('token texts are aligned back onto the text, skipping what does not match', () => {
  assert.deepEqual(gltr.alignTokens('def f(x):', ['def', ' f', '(', 'x', '):']), [
    { start: 0, end: 3 },
    { start: 3, end: 5 },
    { start: 5, end: 6 },
    { start: 6, end: 7 },
    { start: 7, end: 9 },
  ]);
  // A multi-byte character split over two byte-level tokens.
  const r = gltr.alignTokens('a é b', ['a', ' ', '\uFFFD', '\uFFFD', ' b']);
  assert.deepEqual(r[0], { start: 0, end: 1 });
  assert.deepEqual(r[2], { start: 2, end: 3 });
  assert.deepEqual(r[4], { start: 3, end: 5 });
  assert.equal(gltr.alignTokens('abc', ['zzz', 'abc'])[0], null);
  assert.deepEqual(gltr.alignTokens('abcabc', ['abc'], 16, 3), [{ start: 3, end: 6 }], 'starts after an unscored head');
  assert.equal(gltr.unscoredHead('def f(x)', [' f', '(', 'x', ')']), 'def');
  assert.equal(gltr.unscoredHead('def f', ['def', ' f']), '');
  assert.equal(gltr.unscoredHead('abc', ['zz']), '');
  assert.deepEqual(gltr.alignTokens('abc', ['zzz', 'abc'])[1], { start: 0, end: 3 });
});

test('heatmap math: averaging heads, colour ramp, pixels and the step view', () => {
  const h1 = [[1, 0], [0.5, 0.5]];
  const h2 = [[1, 0], [0.1, 0.9]];
  assert.deepEqual(heatmap.averageHeads([h1, h2]), [[1, 0], [0.3, 0.7]]);
  assert.deepEqual(heatmap.rampColor(0), [68, 1, 84]);
  assert.deepEqual(heatmap.rampColor(1), [253, 231, 37]);
  assert.deepEqual(heatmap.rampColor(NaN), [68, 1, 84]);
  const px = heatmap.matrixToRgba(h1, { gamma: 1 });
  assert.equal(px.length, 2 * 2 * 4);
  assert.deepEqual([...px.slice(0, 4)], [253, 231, 37, 255], 'the maximum is the brightest');
  const stepped = heatmap.matrixToRgba(h1, { rowsShown: 1 });
  assert.equal(stepped[(1 * 2 + 0) * 4 + 3], heatmap.FUTURE_ALPHA, 'rows after the step are faint');
  assert.equal(stepped[3], 255);
  const map = { kind: 'self', queryTokens: ['a', 'b'], keyTokens: ['a', 'b'], weights: [[h1, h2]] };
  assert.deepEqual(heatmap.mapShape(map), { layers: 1, heads: 2, queries: 2, keys: 2 });
  assert.deepEqual(heatmap.selectMatrix(map, 0, 1), h2);
  assert.deepEqual(heatmap.selectMatrix(map, 0, 'avg'), [[1, 0], [0.3, 0.7]]);
  assert.deepEqual(heatmap.topKeys(h2, 1, 1), [{ key: 1, weight: 0.9 }]);
  const exported = JSON.parse(heatmap.attentionExport(map, { model: 'm', title: 't' }));
  assert.deepEqual(exported.shape, { layers: 1, heads: 2, queries: 2, keys: 2 });
  assert.equal(exported.kind, 'self');
});

test('branching resumes from the clicked alternative with exact token ids', () => {
  const tokens = [
    { id: 10, text: 'The' },
    { id: 11, text: ' cat' },
    { id: 12, text: ' sat' },
  ];
  // Scored text: its unscored first token is the prompt, the shown tokens follow it.
  const scored = { prompt: 'The', forcedIds: [] };
  assert.deepEqual(branchPoint(scored, tokens.slice(1), 1, 99), { prompt: 'The', forcedIds: [11, 99] });
  assert.deepEqual(branchPoint(scored, tokens.slice(1), 0, 99), { prompt: 'The', forcedIds: [99] });
  // A generation (or a branch of one) continues its own forced ids.
  const generated = { prompt: 'Once upon', forcedIds: [5] };
  assert.deepEqual(branchPoint(generated, tokens, 2, 7), { prompt: 'Once upon', forcedIds: [5, 10, 11, 7] });
  assert.deepEqual(withoutForced([{ id: 5 }, { id: 7 }, { id: 8 }], [5, 7]), [{ id: 8 }]);
  assert.deepEqual(withoutForced([{ id: 8 }, { id: 9 }], [5, 7]), [{ id: 8 }, { id: 9 }]);
});

test('a sequence update replaces the sequence with its id or adds it', () => {
  const a = seq([], { id: 0 });
  const b = seq([], { id: 1, status: 'running' });
  const done = { ...b, status: 'done' };
  assert.deepEqual(upsertSequence([a], b), [a, b]);
  assert.deepEqual(upsertSequence([a, b], done), [a, done]);
  const before = [a, b];
  upsertSequence(before, done);
  assert.deepEqual(before, [a, b], 'the input is not changed');
});

test('panel HTML has a strict CSP with a nonce and nothing inline but the nonce’d script', () => {
  const nonce = html.makeNonce();
  assert.match(nonce, /^[A-Za-z0-9]{16,}$/);
  assert.notEqual(nonce, html.makeNonce());
  const page = html.panelHtml({ cspSource: 'vscode-webview://abc', nonce, scriptUri: 'vscode-webview://abc/dist/media/x.js', styleUri: 'vscode-webview://abc/media/panels.css', title: 'A <b> & "c"', rootId: 'token-panel' });
  const csp = /http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(page)[1];
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, new RegExp(`script-src 'nonce-${nonce}'`));
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  const scripts = page.match(/<script[^>]*>/g);
  assert.equal(scripts.length, 1);
  assert.match(scripts[0], new RegExp(`nonce="${nonce}"`));
  assert.doesNotMatch(page, /style="/);
  assert.match(page, /<title>A &lt;b&gt; &amp; &quot;c&quot;<\/title>/);
  assert.match(page, /id="token-panel" data-testid="token-panel"/);
});

test('translation targets come from the model’s declared tasks', () => {
  assert.deepEqual(languages.translationTargets(['summarization', 'translation_en_to_de', 'translation_en_to_fr', 'translation_en_to_de']), ['de', 'fr']);
  assert.deepEqual(languages.translationTargets(['summarization']), []);
  assert.equal(languages.languageName('fr'), 'French');
  assert.equal(languages.languageName('xx'), 'xx');
  assert.deepEqual(languages.translationTargets(['translation_en_to_DE', 'translation_eng_to_fra']), ['de', 'fra'], 'one reading for the engine and the host');
});

test("a served token's trace (the server's top N, ids -1) passes the panel's validator; a malformed topN does not", () => {
  const served = { id: -1, text: ' b', prob: 0.2, logprob: Math.log(0.2), rank: 4, entropy: 1.1, top: [{ id: -1, text: ' a', prob: 0.5 }, { id: -1, text: ' c', prob: 0.2 }, { id: -1, text: ' d', prob: 0.1 }], topN: 3 };
  assert.equal(messages.isTokenTrace(served), true);
  for (const topN of [-1, 1.5, '3', 5000]) assert.equal(messages.isTokenTrace({ ...served, topN }), false, String(topN));
});

test('packed attention maps: one Float32Array, read back through row views, validated', () => {
  const map = { kind: 'cross', queryTokens: ['x', 'y'], keyTokens: ['a', 'b', 'c'], weights: [[[[0.5, 0.25, 0.25], [0, 1, 0]], [[1, 0, 0], [0.2, 0.3, 0.5]]]] };
  const packed = packedAttention.packMap(map);
  assert.deepEqual(packed.shape, { layers: 1, heads: 2, queries: 2, keys: 3 });
  assert.ok(packed.weights instanceof Float32Array);
  assert.deepEqual([...packed.weights.slice(6, 12)], [1, 0, 0, 0.2, 0.3, 0.5].map(Math.fround), 'layer-major, then head, query, key');
  const view = packedAttention.unpackMap(packed);
  assert.equal(view.weights[0][1][1][2], Math.fround(0.5));
  assert.equal(view.weights[0][1][1].buffer, packed.weights.buffer, 'rows are views, not copies');
  assert.deepEqual(packedAttention.nestedMap(view).weights, map.weights.map((l) => l.map((h) => h.map((r) => r.map(Math.fround)))));
  assert.ok(messages.isPackedAttentionMap(packed));
  assert.ok(!messages.isPackedAttentionMap({ ...packed, weights: packed.weights.subarray(1) }), 'too few weights');
  assert.ok(!messages.isPackedAttentionMap({ ...packed, weights: [...packed.weights] }), 'a plain array');
  assert.ok(!messages.isPackedAttentionMap({ ...packed, shape: { ...packed.shape, keys: 2 } }), 'shape and tokens disagree');
  assert.ok(!messages.isPackedAttentionMap({ ...packed, shape: { ...packed.shape, layers: 0.5 } }));
  const nan = packed.weights.slice();
  nan[3] = NaN;
  assert.ok(!messages.isPackedAttentionMap({ ...packed, weights: nan }), 'a NaN weight');
});

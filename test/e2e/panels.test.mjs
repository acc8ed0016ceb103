// The token-probability panel and the attention inspector: real data from the engine, rendered in
// webviews, surviving hide/show.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { e2eSuite, e2eTest, Session } from './helpers/session.mjs';
import { runCommand, openFile, selectAll, findFrame, tab, waitUntil, screenshot, waitForIdle, cursorToEnd } from './helpers/workbench.mjs';

/** Hides the panel by opening a file in its editor group, then shows it again from its tab. */
async function hideAndShow(page, panelTitle) {
  const panelTab = tab(page, panelTitle);
  await panelTab.click();
  await page.waitForTimeout(500); // the webview takes the focus when it is shown
  await openFile(page, 'README.txt'); // opens in the active group: the panel's
  await waitUntil(async () => !(await panelTab.getAttribute('class')).includes('active'), { message: 'the panel to be hidden' });
  await page.waitForTimeout(500);
  await panelTab.click();
  await waitUntil(async () => (await panelTab.getAttribute('class')).includes('active'), { message: 'the panel to be shown again' });
}

e2eSuite('panels', () => {
  const s = new Session('panels');
  // The cross-attention test needs the transformer translator (the default one is the RNN).
  before(() => s.start({ settings: { 'lmLens.models.translation': 'bart-translate-summarize' } }));
  after(() => s.stop());

  e2eTest(s, 'Inspect Token Probabilities renders every token with its rank and alternatives', async () => {
    const { page } = s;
    await openFile(page, 'fibonacci.py');
    await selectAll(page);
    await runCommand(page, 'LM Lens: Inspect Token Probabilities');
    let frame = await findFrame(page, '#token-panel[data-state="ready"]', { timeout: 120_000 });
    const count = Number(await frame.locator('#token-panel').getAttribute('data-token-count'));
    const tokens = frame.locator('[data-testid=main-sequence] [data-testid=token]');
    assert.ok(count > 50, `token count ${count}`);
    assert.equal(await tokens.count(), count, 'one element per token');
    const ranks = await tokens.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-rank'))));
    assert.ok(ranks.every((r) => Number.isInteger(r) && r >= 1), 'every token has a rank ≥ 1');
    assert.ok(ranks.some((r) => r === 1), 'some tokens are the model\'s top choice');
    const totals = frame.locator('[data-testid=totals]');
    assert.ok(Number(await totals.getAttribute('data-perplexity')) > 1);

    // Hover a token: its probability, rank and alternatives.
    await tokens.nth(10).hover();
    const tooltip = frame.locator('[data-testid=token-tooltip]');
    await tooltip.waitFor({ state: 'visible', timeout: 10_000 });
    assert.ok((await tooltip.locator('[data-testid=alternative]').count()) >= 2, 'alternatives are listed');
    await screenshot(page, 'token-probabilities', { readme: true });
    await page.mouse.move(0, 0);
    // The histograms and the lens are shown in a maximized panel: wide enough to read in the README.
    const panelTab = page.locator('.tabs-container .tab', { hasText: 'Tokens:' }).first();
    const toggleMaximized = async () => {
      await panelTab.click();
      await page.waitForTimeout(500); // the webview takes the focus when its tab is clicked; let it settle before F1
      await runCommand(page, 'View: Toggle Maximize Editor Group');
      await page.waitForTimeout(500);
    };
    await toggleMaximized();

    // GLTR's histograms: the rank buckets count every token; the thresholds move tokens between buckets.
    const bucketCounts = async () => Object.fromEntries(await frame.locator('[data-testid=hist-rank] [data-testid=hist-bar]').evaluateAll((els) => els.map((e) => [e.dataset.bucket, Number(e.dataset.count)])));
    const expected = (t1, t2, t3) => ({
      top10: ranks.filter((r) => r <= t1).length,
      top100: ranks.filter((r) => r > t1 && r <= t2).length,
      top1000: ranks.filter((r) => r > t2 && r <= t3).length,
      beyond: ranks.filter((r) => r > t3).length,
    });
    assert.deepEqual(await bucketCounts(), expected(10, 100, 1000), 'rank histogram = the tokens’ ranks bucketed 10/100/1000');
    const fracTotal = (await frame.locator('[data-testid=hist-frac] [data-testid=hist-bar]').evaluateAll((els) => els.map((e) => Number(e.dataset.count)))).reduce((a, b) => a + b, 0);
    assert.equal(fracTotal, count, 'frac(p) places every token');
    const entropyBars = await frame.locator('[data-testid=hist-entropy] [data-testid=hist-bar]').evaluateAll((els) => els.map((e) => Number(e.dataset.count)));
    assert.equal(entropyBars.length, 10);
    assert.equal(entropyBars.reduce((a, b) => a + b, 0), count, 'the entropy histogram places every token');
    await frame.locator('[data-testid=gltr-histograms]').scrollIntoViewIfNeeded();
    await screenshot(page, 'token-probabilities-histograms', { readme: true });
    const threshold = frame.locator('[data-testid=threshold-top10]');
    await threshold.fill('3');
    await threshold.press('Enter');
    await waitUntil(async () => (await bucketCounts()).top10 === expected(3, 100, 1000).top10, { message: 'the histogram to follow the threshold' });
    assert.deepEqual(await bucketCounts(), expected(3, 100, 1000));
    const coloured = await tokens.evaluateAll((els) => els.map((e) => e.getAttribute('data-bucket')));
    assert.deepEqual(coloured, ranks.map((r) => (r <= 3 ? 'top10' : r <= 100 ? 'top100' : r <= 1000 ? 'top1000' : 'beyond')), 'the token colouring follows the threshold');

    // The logit lens of the real model: one row per layer, one column per token, only the visible ones drawn.
    const lens = frame.locator('[data-testid=logit-lens]');
    await lens.waitFor();
    const layers = Number(await lens.getAttribute('data-layers'));
    assert.ok(layers >= 2, `${layers} layers`);
    assert.equal(Number(await lens.getAttribute('data-columns')), count, 'a column per token');
    const drawn = Number(await lens.getAttribute('data-drawn-columns'));
    assert.ok(drawn > 0 && drawn < count, `only the visible columns are drawn (${drawn} of ${count})`);
    // Selecting token 20 in the text highlights its column; its last-layer cell is the model's own distribution.
    await tokens.nth(20).click();
    await waitUntil(async () => (await lens.getAttribute('data-selected')) === '20', { message: 'the lens to follow the selected token' });
    assert.equal(await frame.locator('[data-testid=lens-detail]').getAttribute('data-index'), '20');
    const lastCell = frame.locator(`[data-testid=lens-cell][data-index="20"][data-layer="${layers - 1}"]`);
    assert.equal(Number(await lastCell.getAttribute('data-rank')), ranks[20], 'the last layer ranks the token as the model does');
    await frame.locator('[data-testid=lens-detail] svg circle').first().waitFor();
    assert.equal(await frame.locator('[data-testid=lens-detail] svg circle').count(), layers, 'the rank chart has a point per layer');
    await lastCell.hover();
    const lensTooltip = frame.locator('[data-testid=lens-tooltip]');
    await lensTooltip.waitFor({ state: 'visible', timeout: 10_000 });
    assert.equal(Number(await lensTooltip.locator('[data-testid=lens-tooltip-rank]').innerText()), ranks[20]);
    await screenshot(page, 'token-probabilities-logit-lens', { readme: true });
    await page.mouse.move(0, 0);
    await toggleMaximized();
    await tokens.nth(10).hover();
    await tooltip.waitFor({ state: 'visible', timeout: 10_000 });

    // Branch from an alternative: generation resumes from it and shows beside the original.
    const alternative = tooltip.locator('[data-testid=alternative]:not([disabled])').first();
    await alternative.click();
    await frame.locator('[data-testid=branch][data-status="done"]').first().waitFor({ timeout: 120_000 });
    const branchTokens = Number(await frame.locator('[data-testid=branch]').first().getAttribute('data-token-count'));
    assert.ok(branchTokens > 0, 'the branch has tokens');
    const allTokens = await frame.locator('[data-testid=token]').count();
    assert.ok(allTokens > count, 'the branch tokens are rendered beside the original');
    // The branch was generated with a logit lens too: focusing one of its tokens shows the branch's grid.
    const branch = frame.locator('[data-testid=branch]').first();
    const branchId = await branch.getAttribute('data-branch-id');
    await branch.locator('[data-testid=token]').first().focus();
    const lensOf = frame.locator('[data-testid=logit-lens]');
    await waitUntil(async () => (await lensOf.getAttribute('data-sequence')) === branchId, { message: 'the lens to show the branch' });
    assert.equal(Number(await lensOf.getAttribute('data-columns')), branchTokens, 'a lens column per branch token');
    assert.equal(await lensOf.getAttribute('data-selected'), '0');
    // Back to the main text's lens, at token 10.
    await tokens.nth(10).focus();
    await waitUntil(async () => (await lensOf.getAttribute('data-sequence')) === '0' && (await lensOf.getAttribute('data-selected')) === '10', { message: 'the lens back on the text' });
    await waitForIdle(page);
    await screenshot(page, 'token-probabilities-branch');

    // Hide and show: the panel keeps its state.
    const title = (await page.locator('.tabs-container .tab', { hasText: 'Tokens:' }).first().innerText()).trim();
    const lensSelected = await frame.locator('[data-testid=logit-lens]').getAttribute('data-selected');
    assert.equal(lensSelected, '10');
    await hideAndShow(page, title);
    frame = await findFrame(page, '#token-panel[data-state="ready"]');
    assert.equal(await frame.locator('[data-testid=main-sequence] [data-testid=token]').count(), count, 'the same tokens after hide/show');
    assert.equal(await frame.locator('[data-testid=token]').count(), allTokens, 'the branch survives hide/show');
    assert.equal(await frame.locator('[data-testid=threshold-top10]').inputValue(), '3', 'the thresholds survive hide/show');
    assert.equal(await frame.locator('[data-testid=logit-lens]').getAttribute('data-selected'), lensSelected, 'the lens selection survives hide/show');
    await runCommand(page, 'View: Close All Editors');
  });

  e2eTest(s, 'Show Attention renders the layer × head grid and a heatmap of real weights', async () => {
    const { page } = s;
    await openFile(page, 'greeter.ts');
    await selectAll(page);
    await runCommand(page, 'LM Lens: Show Attention');
    let frame = await findFrame(page, '#attention-panel[data-state="ready"]', { timeout: 120_000 });
    const root = frame.locator('#attention-panel');
    const layers = Number(await root.getAttribute('data-layers'));
    const heads = Number(await root.getAttribute('data-heads'));
    const queries = Number(await root.getAttribute('data-queries'));
    const keys = Number(await root.getAttribute('data-keys'));
    assert.ok(layers >= 1 && heads >= 1, `${layers} layers × ${heads} heads`);
    assert.ok(queries > 10 && keys === queries, `self-attention ${queries} × ${keys}`);
    const thumbs = await frame.locator('[data-testid=head-thumb]').count();
    assert.ok(thumbs >= layers * heads, `${thumbs} thumbnails for ${layers} × ${heads}`);
    const heatmap = frame.locator('[data-testid=heatmap]');
    await heatmap.first().waitFor();
    assert.equal(Number(await heatmap.first().getAttribute('data-cell-count')), queries * keys, 'one cell per query × key');
    await frame.locator('.selected-heading').scrollIntoViewIfNeeded(); // the grid and head view come first
    await screenshot(page, 'attention-inspector', { readme: true });
    // The last token of the selection has its row (it used to be dropped).
    const lastLabel = await frame.locator('[data-testid=head-view-query]').last().innerText();
    assert.match(lastLabel, /\}|↵/, `the last query token is the end of the file: ${JSON.stringify(lastLabel)}`);

    // Another head: the large heatmap follows.
    await frame.locator('[data-testid=head-thumb]').nth(1).click();
    await waitUntil(async () => Number(await heatmap.first().getAttribute('data-cell-count')) === queries * keys);

    const title = (await page.locator('.tabs-container .tab', { hasText: 'Attention:' }).first().innerText()).trim();
    await hideAndShow(page, title);
    frame = await findFrame(page, '#attention-panel[data-state="ready"]');
    assert.equal(await frame.locator('[data-testid=head-thumb]').count(), thumbs, 'the grid after hide/show');
    assert.equal(Number(await frame.locator('[data-testid=heatmap]').first().getAttribute('data-cell-count')), queries * keys);
    await runCommand(page, 'View: Close All Editors');
  });

  e2eTest(s, 'after a translation, Show Attention has encoder, decoder and cross-attention tabs', async () => {
    const { page } = s;
    await openFile(page, 'README.txt');
    // One sentence (lines 3-4): a readable alignment picture.
    await page.keyboard.press('Control+Home');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Shift+ArrowDown');
    await page.keyboard.press('Shift+ArrowDown');
    await s.translateSelection('German');
    await cursorToEnd(page); // no selection: Show Attention shows the last generation
    await runCommand(page, 'LM Lens: Show Attention');
    const frame = await findFrame(page, '#attention-panel[data-state="ready"]', { timeout: 120_000 });
    for (const kind of ['encoder', 'decoder', 'cross']) {
      assert.equal(await frame.locator(`[data-testid=tab-${kind}]`).count(), 1, `a ${kind} tab`);
    }
    const root = frame.locator('#attention-panel');
    assert.equal(await root.getAttribute('data-kind'), 'cross', 'a Seq2Seq inspection opens on cross-attention');
    assert.equal(await frame.locator('[data-testid=tab-cross]').getAttribute('aria-selected'), 'true');
    await frame.locator('[data-testid=tab-encoder]').click();
    await waitUntil(async () => (await root.getAttribute('data-kind')) === 'encoder', { message: 'the encoder tab' });
    await frame.locator('[data-testid=tab-cross]').click();
    await waitUntil(async () => (await root.getAttribute('data-kind')) === 'cross', { message: 'the cross-attention tab' });
    assert.match(await frame.locator('[data-testid=axis-y]').innerText(), /target/);
    assert.match(await frame.locator('[data-testid=axis-x]').innerText(), /source/);
    const queries = Number(await root.getAttribute('data-queries'));
    const keys = Number(await root.getAttribute('data-keys'));
    assert.ok(queries > 0 && keys > 10, `cross-attention ${queries} target × ${keys} source tokens`);
    await waitUntil(async () => Number(await frame.locator('[data-testid=heatmap]').first().getAttribute('data-cell-count')) === queries * keys, {
      message: 'the cross-attention heatmap',
    });
    await screenshot(page, 'attention-cross', { readme: true });

    // Export JSON and PNG: VS Code's save dialog (a quick input in the browser) proposes a file in
    // the workspace; accepting it writes the map the panel shows.
    const exported = async (button, nameRe) => {
      await frame.locator(`[data-testid=${button}]`).click();
      const dialog = page.locator('.quick-input-widget input.input');
      await dialog.waitFor({ state: 'visible', timeout: 30_000 });
      const proposed = await waitUntil(async () => nameRe.exec(await dialog.inputValue())?.[0], { message: `the save dialog proposing ${nameRe}` });
      await dialog.focus();
      await page.keyboard.press('Enter');
      const file = join(s.workspace, proposed);
      return await waitUntil(() => (existsSync(file) && statSync(file).size > 0 ? readFileSync(file) : null), { message: `${proposed} written` });
    };
    const json = JSON.parse((await exported('export-json', /attention-cross\.json$/)).toString('utf8'));
    assert.equal(json.kind, 'cross');
    assert.equal(json.queryTokens.length, queries);
    assert.equal(json.keyTokens.length, keys);
    for (const layer of json.weights) for (const head of layer) for (const row of head) {
      assert.equal(row.length, keys);
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-3, 'exported attention rows sum to 1');
    }
    const png = await exported('export-png', /attention-cross-L\d+-(avg|H\d+)\.png$/);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG file');
    // The whole map with labels, axis titles and the colour scale: well beyond the cells alone.
    const [pngWidth, pngHeight] = [png.readUInt32BE(16), png.readUInt32BE(20)];
    assert.ok(pngWidth >= keys * 12 + 150 && pngHeight >= queries * 12 + 60, `PNG ${pngWidth} × ${pngHeight} px for ${queries} × ${keys} cells`);
    await openFile(page, 'README.txt');
    await runCommand(page, 'File: Revert File');
    await runCommand(page, 'View: Close All Editors');

    // The translation's tokens in the token panel, with the logit lens of BART's decoder (a replay with the tokens forced).
    await runCommand(page, 'LM Lens: Inspect Token Probabilities');
    const tokenFrame = await findFrame(page, '#token-panel[data-state="ready"]', { timeout: 120_000 });
    const translated = Number(await tokenFrame.locator('#token-panel').getAttribute('data-token-count'));
    const lens = tokenFrame.locator('[data-testid=logit-lens]');
    await lens.waitFor({ timeout: 120_000 });
    assert.equal(Number(await lens.getAttribute('data-columns')), translated, 'a lens column per generated token');
    assert.ok(Number(await lens.getAttribute('data-layers')) >= 2);
    const ranks = await tokenFrame.locator('[data-testid=main-sequence] [data-testid=token]').evaluateAll((els) => els.map((e) => Number(e.dataset.rank)));
    const layers = Number(await lens.getAttribute('data-layers'));
    const lastRanks = await tokenFrame.locator(`[data-testid=lens-cell][data-layer="${layers - 1}"]`).evaluateAll((els) => els.map((e) => [Number(e.dataset.index), Number(e.dataset.rank)]));
    assert.ok(lastRanks.length > 0);
    assert.equal(lastRanks.length, Math.min(translated, Number(await lens.getAttribute('data-drawn-columns'))), 'a last-layer cell per drawn column');
    for (const [i, rank] of lastRanks) assert.ok(Number.isInteger(rank) && rank >= 1, `token ${i}: rank ${rank} after the last layer`);
    // The translation's tokens are mostly the model's own favourites, before any logits processor too.
    const top1 = lastRanks.filter(([, rank]) => rank === 1).length;
    assert.ok(top1 >= lastRanks.length / 2, `${top1} of ${lastRanks.length} tokens are the last layer's top-1 (trace ranks ${ranks.join(',')})`);
    await runCommand(page, 'View: Close All Editors');
  });

  e2eTest(s, 'a translation by the RNN: the token panel says why there is no logit lens', async () => {
    const { page } = s;
    await s.applySettings({ 'lmLens.models.translation': 'rnn-attention-seq2seq' });
    await openFile(page, 'README.txt');
    await page.keyboard.press('Control+Home');
    await page.keyboard.press('Shift+End'); // the first line: "Local LM Lens sample workspace"
    await s.translateSelection('German');
    await runCommand(page, 'File: Revert File');
    await runCommand(page, 'View: Close All Editors'); // no selection: the panel shows the last generation
    await runCommand(page, 'LM Lens: Inspect Token Probabilities');
    const frame = await findFrame(page, '#token-panel[data-state="ready"]', { timeout: 120_000 });
    assert.ok(Number(await frame.locator('#token-panel').getAttribute('data-token-count')) > 0);
    const notice = frame.locator('[data-testid=lens-unavailable]');
    await notice.waitFor({ timeout: 30_000 });
    assert.match(await notice.innerText(), /Logit lens unavailable: .*RNN/);
    assert.equal(await frame.locator('[data-testid=logit-lens]').count(), 0, 'no empty grid');
    assert.equal(await frame.locator('[data-testid=gltr-histograms]').count(), 1, 'the histograms are there all the same');
    await runCommand(page, 'View: Close All Editors');
  });
});

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

    // Branch from an alternative: generation resumes from it and shows beside the original.
    const alternative = tooltip.locator('[data-testid=alternative]:not([disabled])').first();
    await alternative.click();
    await frame.locator('[data-testid=branch][data-status="done"]').first().waitFor({ timeout: 120_000 });
    const branchTokens = Number(await frame.locator('[data-testid=branch]').first().getAttribute('data-token-count'));
    assert.ok(branchTokens > 0, 'the branch has tokens');
    const allTokens = await frame.locator('[data-testid=token]').count();
    assert.ok(allTokens > count, 'the branch tokens are rendered beside the original');
    await waitForIdle(page);
    await screenshot(page, 'token-probabilities-branch');

    // Hide and show: the panel keeps its state.
    const title = (await page.locator('.tabs-container .tab', { hasText: 'Tokens:' }).first().innerText()).trim();
    await hideAndShow(page, title);
    frame = await findFrame(page, '#token-panel[data-state="ready"]');
    assert.equal(await frame.locator('[data-testid=main-sequence] [data-testid=token]').count(), count, 'the same tokens after hide/show');
    assert.equal(await frame.locator('[data-testid=token]').count(), allTokens, 'the branch survives hide/show');
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
  });
});

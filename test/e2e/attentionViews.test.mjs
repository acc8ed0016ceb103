// The attention inspector on a long text and its head view, in the real editor: a 500-token map
// renders within a second (measured in the webview), zooms and pans with only the visible window
// drawn, and the head view draws one colour per head and follows the chosen query token.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { e2eSuite, e2eTest, Session } from './helpers/session.mjs';
import { runCommand, openFile, selectAll, findFrame, waitUntil, screenshot } from './helpers/workbench.mjs';

/** The bundled GPT reads 512 tokens: this text is 499 of them (two copies of the sample and a bit). */
function longText(workspace) {
  const base = readFileSync(join(workspace, 'fibonacci.py'), 'utf8');
  return `${base}\n\n${base.replace(/fibonacci/g, 'fib2').replace(/is_prime/g, 'prime2')}\n\n${base.slice(0, 230)}`;
}

e2eSuite('attention views', () => {
  const s = new Session('attention-views');
  before(() => s.start());
  after(() => s.stop());

  e2eTest(s, 'the head view draws a colour per head for the chosen query token', async () => {
    const { page } = s;
    await openFile(page, 'fibonacci.py');
    // The first function: a short text keeps the picture readable.
    await page.keyboard.press('Control+Home');
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowDown');
    for (let i = 0; i < 3; i++) await page.keyboard.press('Shift+ArrowDown');
    await runCommand(page, 'LM Lens: Show Attention');
    const frame = await findFrame(page, '#attention-panel[data-state="ready"]', { timeout: 120_000 });
    const root = frame.locator('#attention-panel');
    const heads = Number(await root.getAttribute('data-heads'));
    const queries = Number(await root.getAttribute('data-queries'));
    const view = frame.locator('[data-testid=head-view]');
    await view.waitFor();
    assert.equal(await frame.locator('[data-testid=head-swatch]').count(), heads, 'a swatch per head');
    assert.equal(await frame.locator('[data-testid=head-view-query]').count(), queries, 'every query token');
    assert.equal(await view.getAttribute('data-query'), 'all', 'a short text shows every token’s lines');
    const allLines = Number(await view.getAttribute('data-line-count'));
    assert.ok(allLines > queries, `${allLines} lines`);

    // Hover a token: only its lines.
    const token = frame.locator('[data-testid=head-view-query]').nth(queries - 2);
    await token.hover();
    await waitUntil(async () => (await view.getAttribute('data-query')) === String(queries - 2), { message: 'the hovered token’s lines' });
    const tokenLines = Number(await view.getAttribute('data-line-count'));
    assert.ok(tokenLines > 0 && tokenLines < allLines, `${tokenLines} lines for one token`);
    // Choose it, then hide the first head: fewer lines, and the swatch says so.
    await token.click();
    await waitUntil(async () => (await frame.locator('[data-testid=head-view]').getAttribute('data-query')) === String(queries - 2), { message: 'the chosen token' });
    await frame.locator('[data-testid=head-swatch][data-head="0"]').click();
    await waitUntil(async () => (await frame.locator('[data-testid=head-swatch][data-head="0"]').getAttribute('aria-pressed')) === 'false', { message: 'head 1 hidden' });
    const fewer = Number(await frame.locator('[data-testid=head-view]').getAttribute('data-line-count'));
    assert.ok(fewer < tokenLines, `${fewer} lines without head 1 (${tokenLines} with it)`);
    await frame.locator('[data-testid=head-swatch-all]').click();
    await waitUntil(async () => (await frame.locator('[data-testid=head-swatch][data-head="0"]').getAttribute('aria-pressed')) === 'true', { message: 'all heads again' });
    // Another layer from the selector.
    await frame.locator('[data-testid=head-view-layer]').selectOption('1');
    await waitUntil(async () => (await frame.locator('[data-testid=head-view]').getAttribute('data-layer')) === '1', { message: 'layer 2' });
    await page.mouse.move(0, 0);
    // The panel's editor group alone, so that the heatmap and the head view sit side by side.
    await runCommand(page, 'View: Toggle Maximize Editor Group');
    await frame.locator('#attention-panel[data-thumbnails="painted"]').waitFor();
    await page.waitForTimeout(500);
    await screenshot(page, 'attention-head-view', { readme: true });
    await runCommand(page, 'View: Toggle Maximize Editor Group');

    // Rollout of the average of heads: through layer 2, rows still sum to 1 (the heatmap's maximum ≤ 1).
    await frame.locator('[data-testid=layer-average][data-layer="1"]').click();
    await frame.locator('[data-testid=rollout]').check();
    await waitUntil(async () => /Rollout of layers 1–2/.test(await frame.locator('.selected-heading h2').innerText()), { message: 'the rollout heading' });
    const max = Number(await frame.locator('[data-testid=legend]').getAttribute('data-max'));
    assert.ok(max > 0 && max <= 1.0001, `rollout maximum ${max}`);
    await runCommand(page, 'View: Close All Editors');
  });

  e2eTest(s, 'a ~500-token self-attention map renders within a second and zooms with only the visible cells drawn', async () => {
    const { page } = s;
    await runCommand(page, 'View: Close All Editors'); // no panel left from before
    writeFileSync(join(s.workspace, 'long.py'), longText(s.workspace));
    await openFile(page, 'long.py');
    await selectAll(page);
    await runCommand(page, 'LM Lens: Show Attention');
    const frame = await findFrame(page, '#attention-panel[data-render-ms]', { timeout: 180_000 });
    const root = frame.locator('#attention-panel');
    const queries = Number(await root.getAttribute('data-queries'));
    const keys = Number(await root.getAttribute('data-keys'));
    const renderMs = Number(await root.getAttribute('data-render-ms'));
    const layers = Number(await root.getAttribute('data-layers'));
    const heads = Number(await root.getAttribute('data-heads'));
    await frame.locator('#attention-panel[data-complete-ms]').waitFor({ timeout: 30_000 });
    const completeMs = Number(await root.getAttribute('data-complete-ms'));
    console.log(
      `# attention inspector: ${queries} × ${keys} tokens, ${layers} layers × ${heads} heads: heatmap and head view painted ${renderMs} ms after the maps arrived` +
        ` (${await root.getAttribute('data-render-phases')}), the grid's thumbnails too after ${completeMs} ms`,
    );
    assert.ok(queries >= 490 && keys === queries, `a long map: ${queries} × ${keys}`);
    assert.ok(renderMs > 0 && renderMs < 1000, `rendered in ${renderMs} ms`);

    // Fit to width: the whole map, every column, in the window.
    const heatmap = frame.locator('[data-testid=heatmap]');
    assert.equal(Number(await heatmap.getAttribute('data-cell-count')), queries * keys);
    assert.equal(Number(await heatmap.getAttribute('data-drawn-cols')), keys, 'fit to width: every column drawn');
    assert.match(await frame.locator('[data-testid=axis-x]').innerText(), /key \(attended to\)/);
    assert.match(await frame.locator('[data-testid=axis-y]').innerText(), /query \(attending\)/);
    assert.ok(Number(await frame.locator('[data-testid=legend]').getAttribute('data-max')) > 0, 'a colour scale up to the maximum');

    // Zoom in until labels show: only the visible window is drawn, and the far end can be scrolled to.
    const fitCell = Number(await heatmap.getAttribute('data-cell-size'));
    for (let i = 0; i < 12 && Number(await heatmap.getAttribute('data-cell-size')) < 8; i++) await frame.locator('[data-testid=zoom-in]').click();
    const cell = Number(await heatmap.getAttribute('data-cell-size'));
    assert.ok(cell >= 8 && cell > fitCell, `zoomed from ${fitCell} to ${cell} px per token`);
    const drawnRows = Number(await heatmap.getAttribute('data-drawn-rows'));
    const drawnCols = Number(await heatmap.getAttribute('data-drawn-cols'));
    assert.ok(drawnRows < queries / 2 && drawnCols < keys / 2, `only the visible ${drawnRows} × ${drawnCols} of ${queries} × ${keys} cells drawn`);
    const scroller = frame.locator('[data-testid=heatmap-scroller]');
    await scroller.evaluate((e) => {
      e.scrollLeft = e.scrollWidth;
      e.scrollTop = e.scrollHeight;
    });
    await waitUntil(async () => Number(await heatmap.getAttribute('data-col-end')) === keys && Number(await heatmap.getAttribute('data-row-end')) === queries, {
      message: 'the last row and column drawn after scrolling to the end',
    });
    // Ctrl+wheel zooms out around the pointer.
    const box = await heatmap.boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.keyboard.down('Control');
    await page.mouse.wheel(0, 200);
    await page.keyboard.up('Control');
    await waitUntil(async () => Number(await heatmap.getAttribute('data-cell-size')) < cell, { message: 'Ctrl+wheel to zoom out' });
    await frame.locator('[data-testid=zoom-fit]').click();
    await waitUntil(async () => Number(await heatmap.getAttribute('data-drawn-cols')) === keys, { message: 'fit to width again' });
    await screenshot(page, 'attention-long');
    await runCommand(page, 'View: Close All Editors');
  });
});

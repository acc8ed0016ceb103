// Surprisal highlighting and Pick Model, run from the command palette as a user would.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { e2eSuite, e2eTest, Session } from './helpers/session.mjs';
import {
  runCommand, openFile, waitForIdle, waitUntil, screenshot, answerQuickPick, activeEditor, findFrame,
} from './helpers/workbench.mjs';

const BUNDLED = ['gpt2-code', 'bart-translate-summarize', 'rnn-attention-seq2seq'];

/**
 * The editor's decorations with a visible background: VS Code gives each decoration type a
 * generated class (`ced-<key>-<n>`); Monaco renders a decoration with a background as a `.cdr`
 * div in the view overlays, one per decorated range and line.
 */
async function coloredDecorations(page) {
  return await activeEditor(page).evaluate((root) =>
    [...root.querySelectorAll('[class*="ced-"]')].filter((el) => {
      const bg = getComputedStyle(el).backgroundColor;
      return bg && bg !== 'transparent' && bg !== 'rgba(0, 0, 0, 0)';
    }).length,
  );
}

e2eSuite('more commands', () => {
  const s = new Session('moreCommands');
  // The RNN translates in this suite (the default translator is the BART) so that its alignment can be seen.
  before(() => s.start({ settings: { 'lmLens.models.translation': 'rnn-attention-seq2seq' } }));
  after(() => s.stop());

  e2eTest(s, 'Toggle Surprisal Highlighting colours the tokens of the editor, and toggling again removes the colours', async () => {
    const { page } = s;
    await openFile(page, 'fibonacci.py');
    await waitForIdle(page);
    assert.equal(await coloredDecorations(page), 0, 'no decorations before the toggle');

    const mark = s.logMark();
    await runCommand(page, 'LM Lens: Toggle Surprisal Highlighting');
    // Polls until decorations appear, or stops at once when the extension logs an error.
    const seen = await waitUntil(
      async () => {
        const error = s.extensionLog().slice(mark).split('\n').find((l) => l.includes('[error]'));
        if (error) return { error };
        const count = await coloredDecorations(page);
        return count > 0 && { count };
      },
      { timeout: 120_000, interval: 300, message: 'coloured surprisal decorations in the editor' },
    );
    if (seen.error) throw new Error(`The extension reported an error: ${seen.error}`);
    const { count } = seen;
    await waitForIdle(page);
    // Every visible line of the sample has tokens: many decorated ranges, more than a handful.
    assert.ok(count >= 10, `tokens are coloured (${count} decorations)`);
    await screenshot(page, 'surprisal-highlighting');

    await runCommand(page, 'LM Lens: Toggle Surprisal Highlighting');
    await waitUntil(async () => (await coloredDecorations(page)) === 0, { timeout: 15_000, message: 'the decorations to go' });
    // And they stay gone (no late refresh repaints them).
    await page.waitForTimeout(1_500);
    assert.equal(await coloredDecorations(page), 0, 'no decorations after the second toggle');
  });

  e2eTest(s, 'a translation by the RNN shows its Bahdanau alignment (target × source) in the attention inspector', async () => {
    const { page } = s;
    await openFile(page, 'README.txt');
    await page.keyboard.press('Control+Home');
    await page.keyboard.press('Shift+End'); // the first line: "Local LM Lens sample workspace"
    await s.translateSelection('German');
    await page.keyboard.press('Control+End'); // no selection: Show Attention shows the last generation
    await runCommand(page, 'LM Lens: Show Attention');
    const frame = await findFrame(page, '#attention-panel[data-state="ready"]', { timeout: 120_000 });
    const root = frame.locator('#attention-panel');
    assert.equal(await frame.locator('[data-testid=tab-alignment]').count(), 1, 'an alignment tab');
    assert.equal(await frame.locator('[data-testid=tab-cross]').count(), 0, 'no transformer cross-attention for the RNN');
    await frame.locator('[data-testid=tab-alignment]').click();
    await waitUntil(async () => (await root.getAttribute('data-kind')) === 'alignment', { message: 'the alignment tab' });
    assert.equal(Number(await root.getAttribute('data-layers')), 1);
    assert.equal(Number(await root.getAttribute('data-heads')), 1);
    assert.equal(await frame.locator('[data-testid=layer-average]').count(), 0, 'a single head is shown as itself, with no average of heads');
    const queries = Number(await root.getAttribute('data-queries'));
    const keys = Number(await root.getAttribute('data-keys'));
    assert.ok(queries >= 1 && keys >= 5, `alignment ${queries} target × ${keys} source tokens`);
    await waitUntil(async () => Number(await frame.locator('[data-testid=heatmap]').first().getAttribute('data-cell-count')) === queries * keys, {
      message: 'the alignment heatmap',
    });
    await frame.locator('.selected-heading').evaluate((e) => e.scrollIntoView({ block: 'start' })); // the alignment heatmap, below the head view
    await screenshot(page, 'attention-rnn-alignment', { readme: true });
    await openFile(page, 'README.txt');
    await runCommand(page, 'File: Revert File');
    await runCommand(page, 'View: Close All Editors');
  });

  e2eTest(s, 'Pick Model lists the bundled models for a role and sets the chosen one', async () => {
    const { page } = s;
    const mark = s.logMark();
    await runCommand(page, 'LM Lens: Pick Model…');
    const title = page.locator('.quick-input-widget .quick-input-title');
    await title.filter({ hasText: /Pick a model for/ }).waitFor({ timeout: 30_000 });
    await answerQuickPick(page, 'Translation');
    await title.filter({ hasText: /Model for translation/ }).waitFor({ timeout: 30_000 });
    const labels = (await page.locator('.quick-input-widget .quick-input-list .monaco-list-row .label-name').allInnerTexts()).map((l) => l.trim());
    for (const model of BUNDLED) assert.ok(labels.includes(model), `${model} is listed: ${JSON.stringify(labels)}`);
    await screenshot(page, 'pick-model');
    await answerQuickPick(page, 'bart-translate-summarize');

    // The choice is written to the user settings and the model is loaded.
    await waitUntil(() => s.extensionLog().slice(mark).includes('Model for translation: bart-translate-summarize'), {
      timeout: 30_000,
      message: 'the extension to log the choice',
    });
    const settings = await waitUntil(
      () => {
        const json = JSON.parse(readFileSync(s.settingsFile, 'utf8'));
        return json['lmLens.models.translation'] === 'bart-translate-summarize' ? json : undefined;
      },
      { timeout: 15_000, message: 'lmLens.models.translation in the user settings.json' },
    );
    assert.equal(settings['lmLens.models.translation'], 'bart-translate-summarize');
    assert.equal(settings['lmLens.models.completion'] ?? 'gpt2-code', 'gpt2-code', 'the other roles are unchanged');
    // Loaded: the log says so, and the status bar item names the model it loaded last.
    await waitUntil(() => s.extensionLog().slice(mark).includes('Using bart-translate-summarize'), {
      timeout: 120_000,
      message: 'the picked model to be loaded',
    });
    await waitForIdle(page);
    const item = page.locator('.part.statusbar [id$="lmLens.status"]');
    await waitUntil(async () => (await item.innerText()).includes('bart-translate-summarize'), {
      timeout: 10_000,
      message: 'the status bar to show bart-translate-summarize',
    });
    const errors = s.extensionLog().slice(mark).split('\n').filter((l) => l.includes('[error]'));
    assert.deepEqual(errors, [], 'loading the picked model logs no error');
  });
});

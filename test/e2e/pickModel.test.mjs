// Pick Model checks a model before saving it: a folder that does not load is refused with the
// reason, the settings stay as they were, and the status bar shows that the load failed.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { e2eSuite, e2eTest, Session } from './helpers/session.mjs';
import { answerQuickPick, runCommand, screenshot, waitForNotification, waitUntil } from './helpers/workbench.mjs';

e2eSuite('pick model', () => {
  const s = new Session('pickModel');
  // A folder in Hub layout whose config names an architecture nobody knows, and no ONNX files.
  const broken = mkdtempSync(join(tmpdir(), 'lm-lens-broken-model-'));
  writeFileSync(join(broken, 'config.json'), JSON.stringify({ model_type: 'no-such-architecture', architectures: ['NoSuchModel'] }));
  // Configured for summarization (nothing loads it until used), so Pick Model lists it under "Configured"
  // (the folder dialog cannot be driven in the browser).
  before(() => s.start({ settings: { 'lmLens.models.summarization': broken } }));
  after(() => s.stop());

  e2eTest(s, 'a model that does not load is refused with the reason, not saved, and the status bar shows the failure', async () => {
    const { page } = s;
    const mark = s.logMark();
    const before = JSON.parse(readFileSync(s.settingsFile, 'utf8'));
    await runCommand(page, 'LM Lens: Pick Model…');
    const title = page.locator('.quick-input-widget .quick-input-title');
    await title.filter({ hasText: /Pick a model for/ }).waitFor({ timeout: 30_000 });
    await answerQuickPick(page, 'Completion');
    await title.filter({ hasText: /Model for completion/ }).waitFor({ timeout: 30_000 });
    // The recommended Hub models, with their download from the smallest dtype to fp32.
    const rows = page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
    const listed = (await rows.allInnerTexts()).join('\n');
    assert.match(listed, /onnx-community\/Qwen2\.5-0\.5B-Instruct/);
    assert.match(listed, /483 MB q4f16 … 1\.99 GB fp32/);
    await screenshot(page, 'pick-model-recommended');
    await answerQuickPick(page, broken);

    // The dtype step.
    await title.filter({ hasText: /Which files of/ }).waitFor({ timeout: 30_000 });
    await answerQuickPick(page, 'auto');

    const notification = await waitForNotification(page, /was not saved as the completion model/, { timeout: 120_000 });
    const text = await notification.innerText();
    assert.match(text, /no-such-architecture/, text);
    const actions = await notification.locator('.monaco-button').allInnerTexts();
    assert.ok(actions.includes('Pick Another') && actions.includes('Show Log'), `actions: ${actions.join(', ')}`);

    // The status bar says the load failed, with the reason in its tooltip.
    const item = page.locator('.part.statusbar [id$="lmLens.status"]');
    await waitUntil(async () => /failed to load/.test(await item.innerText()), { timeout: 10_000, message: 'the status bar error state' });
    assert.ok((await item.locator('.codicon-error').count()) > 0, 'an error icon');
    await screenshot(page, 'pick-model-refused');

    // "Pick Another" asks again; dismissing it leaves everything as it was.
    await notification.locator('.monaco-button', { hasText: 'Pick Another' }).click();
    await title.filter({ hasText: /Model for completion/ }).waitFor({ timeout: 30_000 });
    await page.keyboard.press('Escape');

    const settings = JSON.parse(readFileSync(s.settingsFile, 'utf8'));
    assert.deepEqual(settings, before, 'neither the model nor the dtype is saved');
    const log = s.extensionLog().slice(mark);
    assert.doesNotMatch(log, /Model for completion:/, 'nothing was saved');
    assert.match(log, /Loading .*lm-lens-broken-model-.* failed after \d+ ms: .*no-such-architecture/);

    // A model that loads ends the error state, also when the worker already holds it (a cached load).
    const pick = async (source) => {
      await runCommand(page, 'LM Lens: Pick Model…');
      await answerQuickPick(page, 'Completion');
      await title.filter({ hasText: /Model for completion/ }).waitFor({ timeout: 30_000 });
      await answerQuickPick(page, source);
      if (source === 'gpt2-code') return; // a bundled model has no dtype step
      await title.filter({ hasText: /Which files of/ }).waitFor({ timeout: 30_000 });
      await answerQuickPick(page, 'auto');
    };
    const loaded = async () => {
      const t = await item.innerText();
      return /gpt2-code · fp32/.test(t) && !/failed to load/.test(t);
    };
    await pick('gpt2-code');
    await waitUntil(loaded, { timeout: 120_000, message: 'gpt2-code loaded, with its dtype' });
    await pick(broken);
    await waitUntil(async () => /failed to load/.test(await item.innerText()), { timeout: 60_000, message: 'the error state again' });
    await pick('gpt2-code');
    await waitUntil(loaded, { timeout: 30_000, message: 'the cached gpt2-code clears the error state' });
  });
});

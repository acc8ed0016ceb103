// A broken model path: the user sees an error message with an action, and the editor keeps working.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { e2eSuite, e2eTest, Session } from './helpers/session.mjs';
import { runCommand, openFile, cursorToEnd, waitForNotification, waitForIdle, screenshot, visibleEditorText, waitUntil, outputText } from './helpers/workbench.mjs';

e2eSuite('errors', () => {
  const s = new Session('errors');
  before(() => s.start());
  after(() => s.stop());

  e2eTest(s, 'a broken model path shows an error with actions, and the editor still works', async () => {
    const { page } = s;
    await s.applySettings({ 'lmLens.models.completion': '/nonexistent/broken-model' });
    const original = s.readFile('fibonacci.py');
    await openFile(page, 'fibonacci.py');
    await cursorToEnd(page);
    await runCommand(page, 'LM Lens: Continue at Cursor');
    const notification = await waitForNotification(page, /Local LM Lens: .*failed/i, { timeout: 120_000 });
    assert.match(await notification.innerText(), /broken-model|not found|no such|does not exist|cannot/i);
    const actions = await notification.locator('.monaco-button').allInnerTexts();
    assert.ok(actions.some((a) => /Open Settings|Show Log/.test(a)), `actions: ${actions.join(', ')}`);
    await screenshot(page, 'error-broken-model');
    await waitForIdle(page, { timeout: 30_000 });

    // "Show Log", an action of the error, opens the channel with the failure.
    await notification.locator('.monaco-button', { hasText: 'Show Log' }).click();
    await waitUntil(async () => /failed/.test(await outputText(page)), { message: 'the failure in the log' });

    // The editor is responsive: typing works and nothing was inserted by the failed command.
    await page.keyboard.press('Escape');
    await openFile(page, 'fibonacci.py');
    await cursorToEnd(page);
    await page.keyboard.type('\n# still editable', { delay: 10 });
    await waitUntil(async () => (await visibleEditorText(page)).includes('# still editable'), { message: 'typed text' });
    const saved = await s.saveAndRead('fibonacci.py');
    assert.ok(saved.startsWith(original));
    assert.ok(saved.trimEnd().endsWith('# still editable'));

    // Fixing the setting makes the command work again, without a reload.
    await s.applySettings({});
    await openFile(page, 'fibonacci.py');
    await cursorToEnd(page);
    const mark = s.logMark();
    await runCommand(page, 'LM Lens: Continue at Cursor');
    await s.waitForEdit(mark);
    await waitForIdle(page);
    assert.ok((await s.saveAndRead('fibonacci.py')).length > saved.length, 'the continuation after fixing the setting');
  });
});

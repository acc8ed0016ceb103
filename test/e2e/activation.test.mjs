// The extension activates in a real VS Code, contributes its commands and logs to its channel.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { e2eSuite, e2eTest, Session } from './helpers/session.mjs';
import { runCommand, screenshot, waitUntil, openFile, outputText } from './helpers/workbench.mjs';

e2eSuite('activation', () => {
  const s = new Session('activation');
  before(() => s.start());
  after(() => s.stop());

  e2eTest(s, 'activates on startup and shows the model in the status bar', async () => {
    const item = s.page.locator('.part.statusbar [id$="lmLens.status"]');
    await item.waitFor({ state: 'visible', timeout: 60_000 });
    assert.match(await item.innerText(), /gpt2-code/);
  });

  e2eTest(s, 'contributes its commands to the command palette', async () => {
    const { page } = s;
    await openFile(page, 'fibonacci.py'); // the editor commands show when an editor is open
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input.input');
    await input.fill('>LM Lens: ');
    const labels = await waitUntil(
      async () => {
        const l = await page.locator('.quick-input-widget .quick-input-list .monaco-list-row .label-name').allInnerTexts();
        return l.filter((x) => x.startsWith('LM Lens:')).length >= 10 ? l : null;
      },
      { message: 'LM Lens commands in the palette' },
    );
    await screenshot(page, 'command-palette');
    await page.keyboard.press('Escape');
    for (const title of ['Continue at Cursor', 'Summarize Selection', 'Translate Selection', 'Generate from Prompt', 'Pick Model', 'Inspect Token Probabilities', 'Show Attention', 'Toggle Surprisal Highlighting']) {
      assert.ok(labels.some((l) => l.includes(title)), `${title} in ${labels.join(', ')}`);
    }
  });

  e2eTest(s, 'Show Log opens the output channel with the activation message', async () => {
    const { page } = s;
    await runCommand(page, 'LM Lens: Show Log');
    await waitUntil(async () => /Activated/.test(await outputText(page)), { message: 'Activated in the log' });
  });
});

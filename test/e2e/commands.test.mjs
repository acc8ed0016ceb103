// Each command on the bundled models, run from the command palette as a user would.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { e2eSuite, e2eTest, Session } from './helpers/session.mjs';
import { startOpenAiServer } from '../servers/servingEngines.mjs';
import {
  runCommand, openFile, cursorToEnd, selectAll, waitForIdle, waitUntil, screenshot, answerInputBox,
  visibleEditorText, extensionBusy,
} from './helpers/workbench.mjs';

e2eSuite('commands', () => {
  const s = new Session('commands');
  before(() => s.start());
  after(() => s.stop());

  e2eTest(s, 'Continue at Cursor streams a continuation into the document as one undo step', async () => {
    const { page } = s;
    const original = s.readFile('fibonacci.py');
    await openFile(page, 'fibonacci.py');
    await cursorToEnd(page);
    const mark = s.logMark();
    await runCommand(page, 'LM Lens: Continue at Cursor');
    await s.waitForEdit(mark);
    await waitForIdle(page);
    await screenshot(page, 'continue-at-cursor', { readme: true });
    const after = await s.saveAndRead('fibonacci.py');
    assert.ok(after.startsWith(original), 'the original text is kept');
    assert.ok(after.length > original.length, 'text was added at the cursor');
    // One undo step removes the whole continuation.
    await page.keyboard.press('Control+Z');
    assert.equal(await s.saveAndRead('fibonacci.py'), original);
  });

  e2eTest(s, 'Summarize Selection writes a summary below the selection', async () => {
    const { page } = s;
    const original = s.readFile('README.txt');
    await openFile(page, 'README.txt');
    await selectAll(page);
    const mark = s.logMark();
    await runCommand(page, 'LM Lens: Summarize Selection');
    await s.waitForEdit(mark);
    await waitForIdle(page);
    const after = await s.saveAndRead('README.txt');
    assert.ok(after.length > original.length, 'a summary was inserted');
    assert.ok(after.includes(original.trim().split('\n')[0]), 'the selection is kept (insert below)');
    const added = after.replace(original.trimEnd(), '').trim();
    assert.ok(/\p{L}{2,}/u.test(added), `the summary has words: ${JSON.stringify(added)}`);
    // Separated from the text by one blank line, and not left selected (the status bar shows no "selected").
    assert.ok(after.startsWith(`${original.trimEnd()}\n\n${added}`), `one blank line between the text and the summary: ${JSON.stringify(after.slice(original.trimEnd().length - 10))}`);
    assert.doesNotMatch(await page.locator('.part.statusbar').innerText(), /selected/);
    await screenshot(page, 'summarize-selection');
    await page.keyboard.press('Control+Z');
    await s.saveAndRead('README.txt');
  });

  e2eTest(s, 'Translate Selection asks for the language, then inserts the translation below (lmLens.translate.output)', async () => {
    const { page } = s;
    const original = s.readFile('README.txt');
    await openFile(page, 'README.txt');
    await selectAll(page);
    // The language pick appears when the model offers several targets; the placement is a setting.
    await s.translateSelection('German');
    const after = await s.saveAndRead('README.txt');
    assert.ok(after.length > original.length, 'a translation was inserted');
    const added = after.replace(original.trimEnd(), '').trim();
    assert.ok(/\p{L}{2,}/u.test(added), `the translation has words: ${JSON.stringify(added)}`);
    assert.ok(after.startsWith(`${original.trimEnd()}\n\n${added}`), `one blank line between the text and the translation: ${JSON.stringify(after.slice(original.trimEnd().length - 10))}`);
    assert.doesNotMatch(await page.locator('.part.statusbar').innerText(), /selected/);
    await screenshot(page, 'translate-selection');
    await page.keyboard.press('Control+Z');
    await s.saveAndRead('README.txt');
  });

  e2eTest(s, 'Generate from Prompt opens a new editor with the prompt and its continuation', async () => {
    const { page } = s;
    const prompt = 'def greet(name):';
    await runCommand(page, 'LM Lens: Generate from Prompt…');
    await answerInputBox(page, prompt);
    await waitUntil(async () => (await visibleEditorText(page)).startsWith(prompt), { timeout: 120_000, message: 'the prompt in a new editor' });
    await waitForIdle(page);
    const text = await visibleEditorText(page);
    assert.ok(text.length > prompt.length, `generated text after the prompt: ${JSON.stringify(text)}`);
    await runCommand(page, 'View: Revert and Close Editor');
  });

  e2eTest(s, 'a long generation stops on Escape (Stop Generation) and keeps what was written', async () => {
    // The bundled model writes its whole 512-token context in about a second, before Escape can land
    // reliably; a serving engine that sends a token every 50 ms (the vLLM-style test server, computing with
    // the bundled model) gives a generation long enough to stop. Stopping a local generation is the same
    // path from the command on (the unit tests cancel local ones mid-stream).
    const server = await startOpenAiServer({ delayMs: 50 });
    try {
      await stopsOnEscape(`openai+${server.url}/v1#gpt2-code`);
    } finally {
      await server.close();
    }
  });

  async function stopsOnEscape(model) {
    const { page } = s;
    // Seed 4 samples 250 tokens of fibonacci.py's continuation with neither an end of text nor a repetition that
    // would stop it first (other seeds end after a token or two: the file is complete).
    await s.applySettings({ 'lmLens.models.completion': model, 'lmLens.decoding.maxNewTokens': 250, 'lmLens.decoding.strategy': 'sample', 'lmLens.decoding.seed': 4 });
    const original = s.readFile('fibonacci.py');
    await openFile(page, 'fibonacci.py');
    await cursorToEnd(page);
    const mark = s.logMark();
    await runCommand(page, 'LM Lens: Continue at Cursor');
    // Escape runs lmLens.stopGeneration while a generation runs (a keybinding of the extension):
    // press it once the first text is in the document, until the status bar's spinner goes.
    await s.waitForEdit(mark);
    assert.ok(await extensionBusy(page), 'the generation still runs when its first text is in');
    await waitUntil(
      async () => {
        await page.keyboard.press('Escape');
        return !(await extensionBusy(page));
      },
      { timeout: 15_000, interval: 20, message: 'the generation to stop' },
    );
    await waitForIdle(page, { timeout: 15_000 });
    const stopped = await s.saveAndRead('fibonacci.py');
    await page.waitForTimeout(1500);
    assert.equal(s.readFile('fibonacci.py'), stopped, 'nothing more is written after the stop');
    assert.ok(stopped.startsWith(original) && stopped.length > original.length, 'the partial continuation stays');
    assert.match(s.extensionLog(), /stopped by the user|Continue: cancelled/, 'the generation was stopped, not finished');
    await s.applySettings({});
    await openFile(page, 'fibonacci.py');
    await page.keyboard.press('Control+Z');
    await s.saveAndRead('fibonacci.py');
  }
});

// Workspace trust: a workspace's .vscode/settings.json points the completion model at a folder the
// workspace ships. Trusted, the extension honours it (and the broken folder fails to load: the
// control that shows the setting reaches the extension). In VS Code's Restricted Mode the setting is
// ignored and the bundled model runs.
import { before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { e2eSuite, e2eTest, Session } from './helpers/session.mjs';
import { runCommand, openFile, cursorToEnd, waitForIdle, waitForNotification, screenshot, waitUntil } from './helpers/workbench.mjs';

const WORKSPACE_SETTINGS = { 'lmLens.models.completion': './workspace-model' };

/** What the workspace ships as its "model": loading it fails loudly (a config but no ONNX graph). */
function shipModel(s) {
  const model = join(s.workspace, 'workspace-model');
  mkdirSync(model, { recursive: true });
  writeFileSync(join(model, 'config.json'), JSON.stringify({ model_type: 'gpt2' }));
}

async function continueFibonacci(s) {
  await openFile(s.page, 'fibonacci.py');
  await cursorToEnd(s.page);
  await runCommand(s.page, 'LM Lens: Continue at Cursor');
}

e2eSuite('trust', () => {
  describe('trusted workspace (control)', () => {
    const s = new Session('trust-trusted');
    before(async () => {
      await s.start({ workspaceSettings: WORKSPACE_SETTINGS });
      shipModel(s);
    });
    after(() => s.stop());

    e2eTest(s, 'a trusted workspace chooses the model: its folder is loaded (and fails, having no graph)', async () => {
      await waitUntil(() => /Activated \(workspace trusted\)/.test(s.extensionLog()), { message: 'activation in a trusted workspace' });
      const mark = s.logMark();
      await continueFibonacci(s);
      await waitForNotification(s.page, /Local LM Lens: .*failed/i, { timeout: 120_000 });
      await waitUntil(() => /Loading .*workspace-model failed/.test(s.extensionLog().slice(mark)), { message: 'the workspace model in the log' });
      await waitForIdle(s.page);
    });
  });

  describe('untrusted workspace (Restricted Mode)', () => {
    const s = new Session('trust-untrusted');
    before(async () => {
      await s.start({ untrusted: true, workspaceSettings: WORKSPACE_SETTINGS });
      shipModel(s);
    });
    after(() => s.stop());

    e2eTest(s, 'in Restricted Mode the workspace model setting is ignored and the bundled model runs', async () => {
      const { page } = s;
      await waitUntil(() => /Activated \(workspace untrusted/.test(s.extensionLog()), { message: 'activation in an untrusted workspace' });
      assert.match(await page.locator('.part.statusbar [id$="lmLens.status"]').innerText(), /gpt2-code/);
      const original = s.readFile('fibonacci.py');
      const mark = s.logMark();
      await continueFibonacci(s);
      await s.waitForEdit(mark);
      await waitForIdle(page);
      await screenshot(page, 'untrusted-continue');
      const saved = await s.saveAndRead('fibonacci.py');
      assert.ok(saved.length > original.length && saved.startsWith(original), 'the bundled model continued the file');
      const log = s.extensionLog().slice(mark);
      assert.match(log, /Using gpt2-code/);
      assert.doesNotMatch(log, /workspace-model/, 'nothing was loaded from the workspace');
    });
  });
});

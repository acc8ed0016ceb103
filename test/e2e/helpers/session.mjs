// One VS Code session for a test file: a fresh user-data folder and workspace copy, code-server on
// a free port, headless Chromium on the workbench. The extension comes from the VSIX installed by
// scripts/code-server/run-e2e.mjs (LMLENS_E2E_EXTENSIONS_DIR), or from this folder in dev mode
// (LMLENS_E2E_MODE=dev: VS Code's extensionDevelopmentPath, no packaging).
import test, { describe } from 'node:test';
import { appendFileSync, mkdirSync, readFileSync, readdirSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, startCodeServer, prepareWorkspace, writeUserSettings, toolsInstalled, OFFLINE_SETTINGS } from '../../../scripts/code-server/lib.mjs';
import { answerQuickPick, launchBrowser, openWorkbench, runCommand, screenshot, waitForIdle, waitUntil } from './workbench.mjs';

/** Extra settings for every session, as JSON (e.g. to point the models at test fixtures). */
const EXTRA_SETTINGS = process.env.LMLENS_E2E_SETTINGS ? JSON.parse(process.env.LMLENS_E2E_SETTINGS) : {};

export const E2E_ENABLED = process.env.LMLENS_E2E === '1';
export const RESULTS = join(ROOT, 'test-results/e2e');

/** Settings every e2e session starts with (on top of the offline settings). */
export const TEST_SETTINGS = {
  'lmLens.decoding.strategy': 'greedy',
  'lmLens.decoding.maxNewTokens': 24,
  'lmLens.inline.debounceMs': 100,
  'editor.inlineSuggest.enabled': true,
  'editor.quickSuggestions': { other: false, comments: false, strings: false },
  'editor.suggestOnTriggerCharacters': false,
  'editor.wordBasedSuggestions': 'off',
  'editor.parameterHints.enabled': false,
  'editor.hover.enabled': 'off',
  'editor.minimap.enabled': false,
  'python.analysis.autoImportCompletions': false,
  'workbench.colorTheme': 'Default Dark Modern',
};

/**
 * `describe` that is skipped unless the end-to-end run is enabled (npm run test:e2e sets
 * LMLENS_E2E=1), so `node --test test/` in the unit-test run does not start editors.
 */
export function e2eSuite(name, fn) {
  if (!E2E_ENABLED) return describe(name, { skip: 'end-to-end: run `npm run test:e2e`' }, () => {});
  if (!toolsInstalled()) return describe(name, { skip: 'code-server is not installed: scripts/code-server/setup.sh' }, () => {});
  return describe(name, { concurrency: 1 }, fn);
}

/**
 * A test that saves a screenshot (test-results/screenshots/failure-*.png) and the tail of the
 * server log when it fails.
 */
export function e2eTest(session, name, fn, options = {}) {
  return test(name, { timeout: 180_000, ...options }, async (t) => {
    try {
      await fn(t);
    } catch (e) {
      const slug = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
      if (session.page) await screenshot(session.page, `failure-${slug}`).catch(() => {});
      throw e;
    }
  });
}

/** The extension's log files (its LogOutputChannel) under the session's user-data folder, concatenated. */
export function readLogs(userDataDir) {
  const logs = join(userDataDir, 'logs');
  let text = '';
  for (const session of existsSync(logs) ? readdirSync(logs) : []) {
    const dir = join(logs, session, 'exthost1', 'local-lm-lens.local-lm-lens');
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) text += readFileSync(join(dir, f), 'utf8');
  }
  return text;
}

export class Session {
  constructor(name) {
    this.name = name;
    this.dir = join(RESULTS, name);
    this.page = undefined;
    this.server = undefined;
    this.browser = undefined;
    this.logFile = join(this.dir, 'code-server.log');
  }

  log(text) {
    appendFileSync(this.logFile, text.endsWith('\n') ? text : `${text}\n`);
  }

  /**
   * Starts code-server and opens the workbench on a fresh copy of the sample workspace.
   * `workspaceSettings` become the workspace's `.vscode/settings.json`; `untrusted` opens it with
   * workspace trust on and the folder not trusted (VS Code's Restricted Mode); `logLevel` (`debug`, `trace`) is the
   * extension's log level.
   */
  async start({ settings = {}, workspaceSettings, untrusted = false, logLevel } = {}) {
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
    this.workspace = prepareWorkspace(join(this.dir, 'workspace'));
    if (workspaceSettings) {
      mkdirSync(join(this.workspace, '.vscode'), { recursive: true });
      writeFileSync(join(this.workspace, '.vscode', 'settings.json'), JSON.stringify(workspaceSettings, null, 2));
    }
    if (untrusted) settings = { 'security.workspace.trust.enabled': true, 'security.workspace.trust.startupPrompt': 'never', 'security.workspace.trust.banner': 'never', ...settings };
    this.userDataDir = join(this.dir, 'user-data');
    this.baseSettings = { ...TEST_SETTINGS, ...EXTRA_SETTINGS, ...settings };
    this.settingsFile = writeUserSettings(this.userDataDir, this.baseSettings);
    const dev = process.env.LMLENS_E2E_MODE === 'dev' || !process.env.LMLENS_E2E_EXTENSIONS_DIR;
    this.extensionsDir = dev ? join(this.dir, 'extensions') : process.env.LMLENS_E2E_EXTENSIONS_DIR;
    this.server = await startCodeServer({
      workspace: this.workspace,
      extensionsDir: this.extensionsDir,
      userDataDir: this.userDataDir,
      vscodeOptions: dev ? ['enable-smoke-test-driver'] : [],
      // e.g. LMLENS_E2E_SERVER_ARGS="--log trace" to debug the server
      extraArgs: process.env.LMLENS_E2E_SERVER_ARGS ? process.env.LMLENS_E2E_SERVER_ARGS.split(' ') : [],
      log: (t) => this.log(t),
      workspaceTrust: untrusted,
    });
    this.browser = await launchBrowser();
    const host = new URL(this.server.url).host;
    // `logLevel` sets the extension's own log level (its debug lines), as VS Code's `--log <extension id>:<level>` does.
    const entries = [...(dev ? [['extensionDevelopmentPath', `vscode-remote://${host}${ROOT}`]] : []), ...(logLevel ? [['logLevel', `local-lm-lens.local-lm-lens:${logLevel}`]] : [])];
    const payload = entries.length ? entries : undefined;
    this.page = await openWorkbench(this.browser, this.server.url, this.workspace, { log: (t) => this.log(t), payload });
    // The extension activates on startup; its status bar item says it is ready.
    await this.page.locator('.part.statusbar [id$="lmLens.status"]').waitFor({ state: 'visible', timeout: 120_000 });
    return this.page;
  }

  /**
   * Rewrites the user settings file with `settings` on top of this session's settings (VS Code
   * picks the change up within a second or so).
   */
  writeSettings(settings) {
    writeUserSettings(this.userDataDir, { ...this.baseSettings, ...settings });
  }

  /**
   * Replaces the user settings the way a user does: "Preferences: Open User Settings (JSON)", new
   * content, save. (code-server's browser client stops noticing external edits of settings.json
   * some time after startup, so writing the file is not enough.) Waits until the extension logs
   * that it saw the change.
   */
  async applySettings(settings) {
    const { page } = this;
    const content = JSON.stringify({ ...OFFLINE_SETTINGS, ...this.baseSettings, ...settings }, null, 2);
    const changes = () => {
      try {
        return (readLogs(this.userDataDir).match(/Settings changed\./g) ?? []).length;
      } catch {
        return 0;
      }
    };
    const before = changes();
    await runCommand(page, 'Preferences: Open User Settings (JSON)');
    // A tab, since the offline settings turn VS Code 1.139's modal editors off.
    await page.locator('.tabs-container .tab.active', { hasText: 'settings.json' }).waitFor();
    await waitUntil(
      () => page.evaluate(() => !!document.activeElement?.closest('.monaco-editor') && !document.activeElement?.closest('.quick-input-widget')),
      { timeout: 10_000, message: 'focus in settings.json' },
    );
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Delete');
    await page.keyboard.insertText(content);
    await page.keyboard.press('Escape'); // an inline suggestion, if any
    await runCommand(page, 'File: Save');
    await waitUntil(() => changes() > before, { timeout: 30_000, message: 'the extension to see the new settings' });
    await runCommand(page, 'View: Close Editor');
  }

  /**
   * Runs Translate Selection… on the current selection, answers its language pick (when the model
   * offers several targets) and waits until the translation is in the editor, where
   * `lmLens.translate.output` puts it (below the selection by default).
   */
  async translateSelection(language = 'German') {
    const { page } = this;
    const mark = this.logMark();
    await runCommand(page, 'LM Lens: Translate Selection…');
    const input = page.locator('.quick-input-widget');
    for (const end = Date.now() + 120_000; !(await input.isVisible()); ) {
      const error = this.extensionLog().slice(mark).split('\n').find((l) => l.includes('[error]'));
      if (error) throw new Error(`The extension reported an error instead of asking: ${error}`);
      if (Date.now() > end) throw new Error('Translate Selection did not ask for the language');
      await page.waitForTimeout(200);
    }
    if (/Translate to/i.test(await page.locator('.quick-input-widget .quick-input-title').innerText().catch(() => ''))) await answerQuickPick(page, language);
    await this.waitForEdit(mark);
    await waitForIdle(page);
  }

  /** A mark in the extension's log: errors logged after it fail `waitForEdit`. */
  logMark() {
    return this.extensionLog().length;
  }

  /**
   * Waits until the active editor tab is dirty (a command edited the document), failing at once
   * with the extension's error when it logs one after `mark`.
   */
  async waitForEdit(mark, { timeout = 120_000 } = {}) {
    const dirty = this.page.locator('.tabs-container .tab.active.dirty');
    const end = Date.now() + timeout;
    while (Date.now() < end) {
      if ((await dirty.count()) > 0) return;
      const error = this.extensionLog().slice(mark).split('\n').find((l) => l.includes('[error]'));
      if (error) throw new Error(`The extension reported an error instead of editing: ${error}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`No edit within ${timeout} ms`);
  }

  /** The extension's log so far. */
  extensionLog() {
    return readLogs(this.userDataDir);
  }

  /** The workspace file's content on disk. */
  readFile(name) {
    return readFileSync(join(this.workspace, name), 'utf8');
  }

  /** Saves the active editor and returns the file's content on disk. */
  async saveAndRead(name) {
    await runCommand(this.page, 'File: Save');
    await this.page.locator('.tabs-container .tab.active.dirty').waitFor({ state: 'detached', timeout: 15_000 }).catch(() => {});
    return this.readFile(name);
  }

  async stop() {
    await this.browser?.close();
    await this.server?.stop();
  }
}

// Drives the VS Code workbench served by code-server with playwright-core and Debian's Chromium.
import { chromium } from 'playwright-core';
import { mkdirSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../../scripts/code-server/lib.mjs';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = join(ROOT, 'test-results/screenshots');
export const README_SCREENSHOTS = join(ROOT, 'media/screenshots');

const CHROMIUM_FLAGS = [
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
  '--disable-features=Translate,MediaRouter,OptimizationHints',
];

/** Launches headless Chromium with a fresh profile. */
export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install -y chromium)`);
  const profile = mkdtempSync(join(tmpdir(), 'lmlens-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1400, height: 900 },
    deviceScaleFactor: 1,
  });
  const close = context.close.bind(context);
  context.close = async () => {
    await close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  };
  return context;
}

/**
 * Opens the workbench for `folder` and waits until it is interactive (the explorer shows the
 * folder and the extension host is connected).
 */
export async function openWorkbench(context, url, folder, { log, payload } = {}) {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30_000);
  if (log) {
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') log(`[browser ${m.type()}] ${m.text()}`);
    });
    page.on('pageerror', (e) => log(`[pageerror] ${e.message}`));
  }
  const target = new URL(url);
  if (folder) target.searchParams.set('folder', folder);
  if (payload) target.searchParams.set('payload', JSON.stringify(payload));
  await page.goto(target.toString(), { waitUntil: 'domcontentloaded', timeout: 120_000 });
  await page.locator('.monaco-workbench').waitFor({ timeout: 120_000 });
  await page.locator('.part.statusbar').waitFor({ timeout: 120_000 });
  // The explorer lists the workspace once the remote file system is connected.
  await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: 120_000 });
  await dismissNotifications(page);
  return page;
}

/** Closes every notification toast (e.g. "trust", "recommendations"). */
export async function dismissNotifications(page) {
  const rows = page.locator('.notifications-toasts .notification-toast');
  for (let i = 0; i < 10 && (await rows.count()) > 0; i++) {
    await runCommand(page, 'Notifications: Clear All Notifications').catch(() => {});
  }
}

/**
 * Opens the command palette, types `title` and runs the command whose label is exactly `title`.
 * Reopens the palette when the command is not listed yet (contributions arrive with the extension
 * host, and the palette computes its list when it opens).
 */
export async function runCommand(page, title, { timeout = 30_000 } = {}) {
  const input = page.locator('.quick-input-widget input.input');
  const rows = page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
  const exact = rows.filter({ has: page.locator('.label-name', { hasText: new RegExp(`^\\s*${escapeRegExp(title)}\\s*$`) }) });
  const end = Date.now() + timeout;
  for (let attempt = 0; ; attempt++) {
    // Close an open quick input, but do not press Escape in an editor: it would drop the selection.
    if (await input.isVisible()) await page.keyboard.press('Escape');
    if (attempt > 0) {
      // Keys typed while a webview has the focus go to its iframe: give the focus back to the workbench.
      await page.evaluate(() => (document.activeElement instanceof HTMLElement ? document.activeElement.blur() : undefined));
    }
    await page.keyboard.press('F1');
    try {
      await input.waitFor({ state: 'visible', timeout: 3_000 });
    } catch (e) {
      if (Date.now() >= end) throw new Error(`The command palette does not open: ${e.message}`);
      continue;
    }
    // Typed without a trailing ellipsis: the palette's fuzzy filter does not match "…" reliably.
    await input.fill(`>${title.replace(/…$/, '')}`);
    try {
      await exact.first().waitFor({ state: 'visible', timeout: Math.min(5_000, Math.max(1, end - Date.now())) });
      break;
    } catch (e) {
      if (Date.now() >= end) throw new Error(`Command "${title}" is not in the command palette: ${e.message}`);
    }
  }
  await chooseRow(page, exact.first());
  // The palette closes, or the command reuses the widget for its own quick pick or input box.
  await waitUntil(async () => !(await input.isVisible()) || !(await input.inputValue()).startsWith('>'), {
    timeout: 5_000,
    interval: 50,
    message: 'the command palette to close',
  }).catch(() => {});
}

/** Answers an open quick pick or input box: picks the row labelled `label`, or types and Enter. */
export async function answerQuickPick(page, label, { timeout = 30_000 } = {}) {
  const input = page.locator('.quick-input-widget input.input');
  await input.waitFor({ state: 'visible', timeout });
  const rows = page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
  const match = rows.filter({ hasText: label });
  await match.first().waitFor({ state: 'visible', timeout });
  await chooseRow(page, match.first());
}

/**
 * Accepts a quick-input row with the keyboard (arrow keys to focus it, Enter): clicking can land
 * on a hover that the mouse position opened.
 */
async function chooseRow(page, row) {
  await page.mouse.move(1, 1);
  for (let i = 0; i < 50; i++) {
    if ((await row.getAttribute('class'))?.includes('focused')) break;
    await page.keyboard.press('ArrowDown');
  }
  await page.keyboard.press('Enter');
}

export async function answerInputBox(page, text, { timeout = 30_000 } = {}) {
  const input = page.locator('.quick-input-widget input.input');
  await input.waitFor({ state: 'visible', timeout });
  await input.fill(text);
  await page.keyboard.press('Enter');
}

/**
 * Opens a workspace file through Quick Open (Ctrl+P) and waits for its editor to have the focus.
 * Retries when the quick pick closes under it (a webview that was just shown takes the focus).
 */
export async function openFile(page, name, { timeout = 30_000 } = {}) {
  const input = page.locator('.quick-input-widget input.input');
  const row = page.locator('.quick-input-widget .quick-input-list .monaco-list-row', {
    has: page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(name)}$`) }),
  }).first();
  const end = Date.now() + timeout;
  for (;;) {
    try {
      await page.keyboard.press('Escape');
      // Keys typed while a webview has the focus go to its iframe: give the focus back to the workbench.
      await page.evaluate(() => (document.activeElement instanceof HTMLElement ? document.activeElement.blur() : undefined));
      await page.keyboard.press('Control+P');
      await input.waitFor({ state: 'visible', timeout: 3_000 });
      await input.fill(name, { timeout: 3_000 });
      await row.waitFor({ state: 'visible', timeout: 5_000 });
      await chooseRow(page, row);
      await page.locator(`.tabs-container .tab.active[aria-label*="${name}"]`).first().waitFor({ timeout: 5_000 });
      break;
    } catch (e) {
      if (Date.now() >= end) throw new Error(`Could not open ${name} with Quick Open: ${e.message}`);
    }
  }
  // Quick Open leaves the focus in the editor it opened.
  const editor = activeEditor(page);
  await editor.locator('.view-lines').waitFor();
  await waitUntil(() => editor.evaluate((e) => e.contains(document.activeElement)), { timeout: 10_000, message: `focus in ${name}` });
  return editor;
}

/** The focused editor group's Monaco editor. */
export function activeEditor(page) {
  return page.locator('.editor-group-container.active .monaco-editor').first();
}

/** Ctrl+End: cursor at the end of the document. */
export async function cursorToEnd(page) {
  await page.keyboard.press('Control+End');
}

/** Selects the whole document. */
export async function selectAll(page) {
  await page.keyboard.press('Control+A');
}

/**
 * The text Monaco currently renders (visible lines only; non-breaking spaces normalised).
 * For the full document, save and read the file from disk.
 */
export async function visibleEditorText(page) {
  const lines = activeEditor(page).locator('.view-lines .view-line');
  const items = await lines.evaluateAll((els) =>
    els
      .map((e) => ({ top: parseFloat(e.style.top || '0'), text: e.textContent ?? '' }))
      .sort((a, b) => a.top - b.top)
      .map((l) => l.text),
  );
  return items.join('\n').replace(/\u00a0/g, ' ');
}

/**
 * Waits for a notification whose text matches `re`, as a toast or (when toasts are not shown, as
 * with VS Code's test driver) in the notification center; returns its list item.
 */
export async function waitForNotification(page, re, { timeout = 60_000 } = {}) {
  const item = page.locator('.notification-list-item', { hasText: re }).first();
  let opened = false;
  const started = Date.now();
  await waitUntil(
    async () => {
      if (await item.isVisible()) return true;
      if (!opened && Date.now() - started > 3_000) {
        opened = true;
        await runCommand(page, 'Notifications: Show Notifications').catch(() => {});
      } else if (opened && !(await page.locator('.notifications-center').isVisible())) {
        opened = false;
      }
      return false;
    },
    { timeout, interval: 500, message: `a notification matching ${re}` },
  );
  return item;
}

/** All notification texts currently in the notification center (toasts and list). */
export async function notificationTexts(page) {
  return await page.locator('.notification-list-item-message').allInnerTexts();
}

/** The status bar text of all items. */
export async function statusBarText(page) {
  return (await page.locator('.part.statusbar').innerText()).replace(/\s+/g, ' ');
}

/**
 * A frame locator for the content of the webview whose editor tab title matches `title`
 * (VS Code nests the extension's document: `iframe.webview` → `#active-frame`).
 */
export async function webviewContent(page, { timeout = 60_000 } = {}) {
  // Only the visible (active) webview is interactive; the others are hidden with visibility.
  const outer = page.locator('iframe.webview.ready').last();
  await outer.waitFor({ state: 'attached', timeout });
  return page.frameLocator('iframe.webview.ready >> nth=-1').frameLocator('#active-frame');
}

/** Saves a screenshot under test-results/screenshots/ (and media/screenshots/ when `readme`). */
export async function screenshot(page, name, { readme = false, locator } = {}) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = join(SCREENSHOTS, `${name}.png`);
  const target = locator ?? page;
  await target.screenshot({ path: file });
  // README images only from runs on the bundled models (not with LMLENS_E2E_SETTINGS overrides).
  if ((readme || process.env.LMLENS_UPDATE_README_SCREENSHOTS === '1') && !process.env.LMLENS_E2E_SETTINGS) {
    mkdirSync(README_SCREENSHOTS, { recursive: true });
    await target.screenshot({ path: join(README_SCREENSHOTS, `${name}.png`) });
  }
  return file;
}

/** Polls `fn` until it returns a truthy value. */
export async function waitUntil(fn, { timeout = 30_000, interval = 250, message = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, interval));
  }
  throw new Error(`Timed out after ${timeout} ms waiting for ${message} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}

export function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The frame (at any depth) whose document contains `selector`: the extension's page inside a
 * webview is nested as `iframe.webview` → `#active-frame`. Re-find it after hide/show, since VS
 * Code may recreate the frames.
 */
export async function findFrame(page, selector, { timeout = 60_000 } = {}) {
  return await waitUntil(
    async () => {
      for (const frame of page.frames()) {
        if (frame === page.mainFrame() || frame.isDetached()) continue;
        const found = await frame.locator(selector).count().catch(() => 0);
        if (found > 0) return frame;
      }
      return null;
    },
    { timeout, message: `a webview frame containing ${selector}` },
  );
}

/** The editor tab whose label contains `label` (e.g. a webview panel's title). */
export function tab(page, label) {
  return page.locator('.tabs-container .tab', { has: page.locator('.label-name', { hasText: label }) }).first();
}

/** True while the status bar item of the extension shows a spinner (loading or generating). */
export async function extensionBusy(page) {
  const item = page.locator('.part.statusbar [id$="lmLens.status"]');
  return (await item.locator('.codicon-loading').count()) > 0;
}

/** Waits until the extension's status bar item shows no spinner, twice in a row. */
export async function waitForIdle(page, { timeout = 120_000 } = {}) {
  let idleOnce = false;
  await waitUntil(
    async () => {
      const idle = !(await extensionBusy(page));
      if (idle && idleOnce) return true;
      idleOnce = idle;
      return false;
    },
    { timeout, interval: 300, message: 'the extension to be idle' },
  );
}

/** The text the Output panel shows (the visible part of the selected channel). */
export async function outputText(page) {
  const lines = page.locator('.part.panel .monaco-editor .view-lines');
  return (await lines.allInnerTexts()).join('\n').replace(/\u00a0/g, ' ');
}

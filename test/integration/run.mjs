#!/usr/bin/env node
// Runs the in-host mocha suite (test/integration/suite) inside a real VS Code extension host.
//
//   npm run test:integration                 # VS Code server (code-server's lib/vscode) + headless Chromium (CI)
//   npm run test:integration -- --code-server  # the same through code-server's own launcher
//   npm run test:integration -- --desktop    # desktop VS Code via @vscode/test-electron
//                                            # (VSCODE_EXECUTABLE=/path/to/code, else it downloads one)
//   LMLENS_INTEGRATION_GREP=settings npm run test:integration
//
// Server mode: code-server's VS Code server is started with the smoke-test driver enabled, which
// makes the browser workbench honour `extensionDevelopmentPath`/`extensionTestsPath` (passed as the
// URL's payload, as VS Code's own web integration tests do). The extension host starts when the
// browser connects, runs the suite and reports the exit code through `window.codeAutomationExit`.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'node:util';
import * as esbuild from 'esbuild';
import { ROOT, ensureTools, prepareWorkspace, startCodeServer, writeUserSettings } from '../../scripts/code-server/lib.mjs';

const desktop = process.argv.includes('--desktop');
// Default: VS Code's own server (lib/vscode/out/server-main.js); --code-server: code-server's wrapper.
const engine = process.argv.includes('--code-server') ? 'code-server' : 'vscode-server';
const results = join(ROOT, 'test-results/integration');
const outDir = join(ROOT, 'out/test/integration/suite');
const report = join(results, 'report.json');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const t0 = Date.now();
const secs = () => `${((Date.now() - t0) / 1000).toFixed(0)} s`;

rmSync(results, { recursive: true, force: true });
mkdirSync(results, { recursive: true });

// 1. The extension (dist/) and the suite (out/test/integration/suite/*.js).
execFileSync(npm, ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
// The suite is compiled without type checking below; check its types against the vscode API here.
execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'test/integration'), '--noEmit'], { cwd: ROOT, stdio: 'inherit' });
const suiteDir = join(ROOT, 'test/integration/suite');
rmSync(outDir, { recursive: true, force: true });
await esbuild.build({
  entryPoints: readdirSync(suiteDir).filter((f) => f.endsWith('.ts')).map((f) => join(suiteDir, f)),
  outdir: outDir,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  bundle: false,
  sourcemap: 'inline',
  logLevel: 'warning',
});
const extensionTestsPath = join(outDir, 'index.js');
const workspace = prepareWorkspace(join(results, 'workspace'));

let exitCode;
if (desktop) {
  const { runTests } = await import('@vscode/test-electron');
  exitCode = await runTests({
    ...(process.env.VSCODE_EXECUTABLE ? { vscodeExecutablePath: process.env.VSCODE_EXECUTABLE } : {}),
    extensionDevelopmentPath: ROOT,
    extensionTestsPath,
    extensionTestsEnv: { LMLENS_INTEGRATION_REPORT: report },
    launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust', '--user-data-dir', join(results, 'user-data')],
  }).catch((e) => {
    console.error(e);
    return 1;
  });
} else {
  ensureTools();
  const { launchBrowser } = await import('../e2e/helpers/workbench.mjs');
  const userDataDir = join(results, 'user-data');
  writeUserSettings(userDataDir);
  const server = await startCodeServer({
    workspace,
    extensionsDir: join(results, 'extensions'),
    userDataDir,
    vscodeOptions: ['enable-smoke-test-driver'],
    engine,
    log: () => {},
  });
  const browser = await launchBrowser();
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    const done = new Promise((resolve) => {
      void page.exposeFunction('codeAutomationExit', (code) => resolve(code));
    });
    // Extension-host console output (mocha's reporter) is forwarded to the page's console.
    page.on('console', async (m) => {
      let text = m.text();
      try {
        let args = await Promise.all(m.args().map((a) => a.jsonValue()));
        // The workbench logs as ('%c INFO', 'color: …', message, …args).
        if (typeof args[0] === 'string' && args[0].startsWith('%c')) args = args.slice(2);
        if (typeof args[0] === 'string') text = format(...args);
      } catch {
        /* keep m.text() */
      }
      text = text.replace(/^%c\s*\w+\s*color:\s*#\w+;?\s*/, '');
      if (m.type() === 'log' || process.env.LMLENS_INTEGRATION_VERBOSE === '1') {
        if (/^(\[|Creating a socket|Resolv|Ignoring fetching|Updating additional|\[AccountPolicyGate|\[Service Worker)/.test(text) && !/^\[Extension Host\]/.test(text)) return;
        if (/Failed to load resource/.test(text)) return;
        console.log(text);
      }
    });
    const host = new URL(server.url).host;
    const remote = (p) => `vscode-remote://${host}${p}`;
    const url = new URL(server.url);
    url.searchParams.set('folder', workspace);
    url.searchParams.set(
      'payload',
      JSON.stringify([
        ['extensionDevelopmentPath', remote(ROOT)],
        ['extensionTestsPath', remote(extensionTestsPath)],
        ['extensionEnvironment', JSON.stringify({ LMLENS_INTEGRATION_REPORT: report, ...(process.env.LMLENS_INTEGRATION_GREP ? { LMLENS_INTEGRATION_GREP: process.env.LMLENS_INTEGRATION_GREP } : {}) })],
      ]),
    );
    await page.goto(url.toString());
    const timeout = Number(process.env.LMLENS_INTEGRATION_TIMEOUT_MS ?? 600_000);
    exitCode = await Promise.race([done, new Promise((r) => setTimeout(() => r('timeout'), timeout))]);
    if (exitCode === 'timeout') {
      console.error(`The suite did not finish in ${timeout} ms.`);
      await page.screenshot({ path: join(results, 'timeout.png') }).catch(() => {});
      exitCode = 1;
    }
  } finally {
    await browser.close();
    await server.stop();
  }
}

if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  const count = (s) => r.outcomes.filter((o) => o.state === s).length;
  console.log(`\nintegration: ${count('passed')} passed, ${count('failed')} failed, ${count('pending')} skipped (${secs()})`);
  for (const o of r.outcomes.filter((x) => x.state === 'failed')) console.log(`  ✖ ${o.title}\n${o.error}`);
} else {
  console.log(`integration: no report was written (${secs()})`);
  exitCode = exitCode || 1;
}
process.exit(typeof exitCode === 'number' ? exitCode : 1);

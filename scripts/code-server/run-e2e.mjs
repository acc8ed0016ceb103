#!/usr/bin/env node
// `npm run test:e2e`: installs the tools if needed, packages the extension, installs the VSIX into a
// private extensions folder and runs test/e2e/*.test.mjs (node --test, one file at a time) against
// VS Code served by code-server and driven by Chromium.
//
//   npm run test:e2e                        # everything (packages the VSIX unless it is current)
//   npm run test:e2e -- panels              # only files whose name contains "panels"
//   npm run test:e2e -- commands --test-name-pattern=Stop
//   LMLENS_E2E_MODE=dev npm run test:e2e    # load the extension from this folder (no packaging)
//   LMLENS_E2E_SKIP_PACKAGE=1 ...           # reuse the last VSIX
import { spawnSync, execFileSync } from 'node:child_process';
import { readdirSync, rmSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, ensureTools, findVsix, installVsix } from './lib.mjs';
import { vsixInputsHash, vsixIsCurrent } from '../vsixInputs.mjs';

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;
const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const dev = process.env.LMLENS_E2E_MODE === 'dev';
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

ensureTools();
const results = join(ROOT, 'test-results/e2e');
mkdirSync(results, { recursive: true });
const env = { ...process.env, LMLENS_E2E: '1' };

if (dev) {
  console.log('e2e: dev mode, the extension loads from this folder');
  execFileSync(npm, ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  delete env.LMLENS_E2E_EXTENSIONS_DIR;
} else {
  let vsix = findVsix();
  const reuse = (process.env.LMLENS_E2E_SKIP_PACKAGE === '1' && vsix) || vsixIsCurrent(vsix, vsixInputsHash(ROOT, `${process.platform}-${process.arch}`));
  if (!reuse) {
    console.log('e2e: packaging the extension');
    execFileSync(npm, ['run', 'package'], { cwd: ROOT, stdio: 'inherit' });
    vsix = findVsix();
  }
  const extensionsDir = join(results, 'extensions');
  rmSync(extensionsDir, { recursive: true, force: true });
  console.log(`e2e: installing ${vsix.slice(ROOT.length + 1)} (${elapsed()})`);
  installVsix(vsix, { extensionsDir, userDataDir: join(results, 'install-user-data') });
  env.LMLENS_E2E_EXTENSIONS_DIR = extensionsDir;
}

const dir = join(ROOT, 'test/e2e');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.test.mjs'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort()
  .map((f) => join('test/e2e', f));
console.log(`e2e: running ${files.length} file(s) (${elapsed()})`);
const passThrough = process.argv.slice(2).filter((a) => a.startsWith('--test-name-pattern'));
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...passThrough, ...files], {
  cwd: ROOT,
  env,
  stdio: 'inherit',
});
console.log(`e2e: finished in ${elapsed()}; screenshots in test-results/screenshots/, logs in test-results/e2e/`);
process.exit(r.status ?? 1);

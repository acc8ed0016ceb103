#!/usr/bin/env node
// `npm start`: build and package the extension, install the VSIX into a private extensions folder,
// and serve VS Code (code-server) on localhost with a sample workspace. Everything it installs
// lives in .tools/ (git-ignored); nothing is downloaded except Node 24 and code-server from npm on
// the first run.
//
//   npm start                      # http://127.0.0.1:8080/
//   npm start -- --port 9000       # another port (or PORT=9000 npm start)
//   npm start -- --no-package      # reuse the last VSIX
//   npm start -- --dev             # load the extension from this folder instead of a VSIX
//   npm start -- --folder /path    # open another folder
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  ROOT, TOOLS, ensureTools, findVsix, installVsix, prepareWorkspace, startCodeServer, writeUserSettings, OFFLINE_SETTINGS,
} from './lib.mjs';

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const option = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const port = Number(option('--port') ?? process.env.PORT ?? 8080);
const dev = flag('--dev');

const extensionsDir = join(TOOLS, 'vscode/extensions');
const userDataDir = join(TOOLS, 'vscode/user-data');
const step = (msg) => console.log(`\n▶ ${msg}`);

step('Tools: Node 24 and code-server in .tools/');
ensureTools();

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
if (dev) {
  step('Building the extension (loaded from this folder: --dev)');
  execFileSync(npm, ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
} else {
  let vsix = findVsix();
  if (!flag('--no-package') || !vsix) {
    step('Packaging the extension (npm run package)');
    execFileSync(npm, ['run', 'package'], { cwd: ROOT, stdio: 'inherit' });
    vsix = findVsix();
  }
  if (!vsix) throw new Error('No VSIX was written by npm run package');
  step(`Installing ${vsix.slice(ROOT.length + 1)} into .tools/vscode/extensions`);
  installVsix(vsix, { extensionsDir, userDataDir });
}

const folder = option('--folder') ? resolve(option('--folder')) : prepareWorkspace(join(TOOLS, 'workspace'), { keep: true });
// Keep the user's own changes to settings.json, but always re-apply the offline settings.
const settingsFile = join(userDataDir, 'User/settings.json');
let previous = {};
if (existsSync(settingsFile)) {
  try {
    previous = JSON.parse(readFileSync(settingsFile, 'utf8'));
  } catch {
    previous = {};
  }
}
writeUserSettings(userDataDir, { ...previous, ...OFFLINE_SETTINGS });

step('Starting VS Code (code-server)');
const server = await startCodeServer({
  workspace: folder,
  extensionsDir,
  userDataDir,
  port,
  // --dev: the same mechanism VS Code's own web tests use (payload honoured with the smoke-test driver).
  vscodeOptions: dev ? ['enable-smoke-test-driver'] : [],
});
let url = `${server.url}?folder=${encodeURIComponent(folder)}`;
if (dev) {
  const host = new URL(server.url).host;
  url += `&payload=${encodeURIComponent(JSON.stringify([['extensionDevelopmentPath', `vscode-remote://${host}${ROOT}`]]))}`;
}
console.log(`\nVS Code with Local LM Lens is running (offline, no authentication, localhost only):\n\n    ${url}\n`);
console.log(`Workspace: ${folder}\nLogs: ${join(userDataDir, 'logs')}\nPress Ctrl+C to stop.`);

const stop = async () => {
  await server.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
const { code, signal } = await server.exited;
console.error(`code-server exited (${code ?? signal}):\n${server.output().slice(-4000)}`);
process.exit(code ?? 1);

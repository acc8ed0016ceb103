#!/usr/bin/env node
// `npm start`: build and package the extension, install the VSIX into a private extensions folder,
// and serve VS Code (code-server) on localhost with a sample workspace. Everything it installs
// lives in .tools/ (git-ignored); nothing is downloaded except Node 24 and code-server from npm on
// the first run. A second start reuses the VSIX and its installation while nothing changed.
//
//   npm start                      # http://127.0.0.1:8080/ (the next free port if 8080 is taken)
//   npm start -- --port 9000       # exactly this port (or PORT=9000 npm start)
//   npm start -- --no-package      # reuse the last VSIX even if the sources changed
//   npm start -- --dev             # load the extension from this folder instead of a VSIX
//   npm start -- --folder /path    # open another folder
//
// Ctrl+C (SIGINT) or SIGTERM stops code-server and everything it started.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  ROOT, TOOLS, ensureTools, findVsix, installVsix, prepareWorkspace, startCodeServer, writeUserSettings, OFFLINE_SETTINGS,
} from './lib.mjs';
import { choosePort, forgetServer, recordServer, stopOrphanedServers } from './ports.mjs';
import { vsixInputsHash, vsixIsCurrent } from '../vsixInputs.mjs';

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const option = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const dev = flag('--dev');
const extensionsDir = join(TOOLS, 'vscode/extensions');
const userDataDir = join(TOOLS, 'vscode/user-data');
const started = Date.now();
const step = (msg) => console.log(`\n▶ ${msg} (${Math.round((Date.now() - started) / 1000)} s)`);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function parsePort() {
  const text = option('--port') ?? process.env.PORT;
  if (text === undefined) return { port: 8080, explicit: false };
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--port must be a port number (1-65535), not "${text}".`);
  return { port, explicit: true };
}

/** The VSIX to install: the last one if it was built from the current sources, else a new one. */
function currentVsix() {
  const target = `${process.platform}-${process.arch}`;
  const last = findVsix();
  if (last && flag('--no-package')) return { vsix: last, reused: true };
  if (vsixIsCurrent(last, vsixInputsHash(ROOT, target))) return { vsix: last, reused: true };
  step('Packaging the extension (npm run package; sources changed since the last VSIX)');
  execFileSync(npm, ['run', 'package'], { cwd: ROOT, stdio: 'inherit' });
  const vsix = findVsix();
  if (!vsix) throw new Error('npm run package wrote no VSIX.');
  return { vsix, reused: false };
}

/** Installs `vsix` unless this very build is what the private extensions folder already holds. */
function install(vsix) {
  const marker = join(extensionsDir, '.lmlens-installed');
  const inputs = `${vsix}.inputs`;
  const stamp = existsSync(inputs) ? `${vsix} ${readFileSync(inputs, 'utf8').trim()}` : null;
  if (stamp && existsSync(marker) && readFileSync(marker, 'utf8') === stamp) {
    console.log('Already installed in .tools/vscode/extensions');
    return;
  }
  step(`Installing ${vsix.slice(ROOT.length + 1)} into .tools/vscode/extensions`);
  rmSync(marker, { force: true });
  installVsix(vsix, { extensionsDir, userDataDir });
  if (stamp) writeFileSync(marker, stamp);
}

async function main() {
  const wanted = parsePort();
  for (const note of stopOrphanedServers(TOOLS)) console.log(note);
  const { port, note } = await choosePort(TOOLS, wanted);
  if (note) console.log(note);

  step('Tools: Node 24 and code-server in .tools/ (first run: about 4-5 minutes, then seconds)');
  ensureTools();

  if (dev) {
    step('Building the extension (loaded from this folder: --dev)');
    execFileSync(npm, ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  } else {
    const { vsix, reused } = currentVsix();
    if (reused) console.log(`Reusing ${vsix.slice(ROOT.length + 1)} (built from the current sources)`);
    install(vsix);
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

  step(`Starting VS Code (code-server) on 127.0.0.1:${port}`);
  let server;
  try {
    server = await startCodeServer({
      workspace: folder,
      extensionsDir,
      userDataDir,
      port,
      // --dev: the same mechanism VS Code's own web tests use (payload honoured with the smoke-test driver).
      vscodeOptions: dev ? ['enable-smoke-test-driver'] : [],
    });
  } catch (e) {
    if (/EADDRINUSE/.test(String(e.message))) throw new Error(`Port ${port} was taken while VS Code started. Run npm start again, or choose one: npm start -- --port ${port + 1}`);
    throw e;
  }
  recordServer(TOOLS, { port, url: server.url, serverPid: server.process.pid, launcherPid: process.pid });

  let url = `${server.url}?folder=${encodeURIComponent(folder)}`;
  if (dev) {
    const host = new URL(server.url).host;
    url += `&payload=${encodeURIComponent(JSON.stringify([['extensionDevelopmentPath', `vscode-remote://${host}${ROOT}`]]))}`;
  }
  console.log(`\nVS Code with Local LM Lens is running (offline, no authentication, localhost only):\n\n    ${url}\n`);
  console.log(`Workspace: ${folder}\nLogs: ${join(userDataDir, 'logs')}\nPress Ctrl+C to stop.`);

  let stopping = false;
  const stop = async (signal) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping VS Code…`);
    await server.stop();
    forgetServer(TOOLS, port);
    console.log('Stopped.');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('Ctrl+C'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGHUP', () => void stop('Terminal closed'));
  // npm passes a SIGTERM it receives to the shell that runs this script, not to us: when our parent
  // (npm's shell) is gone, stop as if we had received it, so no code-server outlives its npm start.
  const parent = process.ppid;
  setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch {
      void stop('npm start ended');
    }
  }, 1000).unref();
  const { code, signal } = await server.exited;
  if (stopping) return; // stop() reports and exits
  forgetServer(TOOLS, port);
  console.error(`code-server exited on its own (${code ?? signal}). Its last output:\n${server.output().slice(-4000)}`);
  process.exit(code || 1);
}

main().catch((e) => {
  // A message the user can act on; the stack of a launcher script helps nobody.
  console.error(`\nnpm start: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});

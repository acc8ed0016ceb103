// `npm start` as a user runs it, twice: the second start finds the port taken by the first, says so
// and serves on the next one; an explicit busy --port is refused with a message, not a stack trace;
// Ctrl+C (SIGINT to the terminal's process group) stops both and leaves no process behind. The VSIX
// that `npm run test:e2e` packaged just before is reused (nothing changed), not packaged again.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, TOOLS } from '../../scripts/code-server/lib.mjs';
import { portIsFree } from '../../scripts/code-server/ports.mjs';
import { e2eSuite, e2eTest } from './helpers/session.mjs';
import { launchBrowser, openWorkbench, waitUntil } from './helpers/workbench.mjs';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const STACK_LINE = /^\s+at .+[:(]\d+/m;

/** `npm start …` in its own process group, as a terminal runs it. */
function npmStart(args = []) {
  const child = spawn(npm, ['start', ...(args.length ? ['--', ...args] : [])], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...(process.env.TOOLS_DIR ? { TOOLS_DIR: process.env.TOOLS_DIR } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const run = { child, output: '', exited: null };
  child.stdout.on('data', (d) => (run.output += d));
  child.stderr.on('data', (d) => (run.output += d));
  run.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return run;
}

async function untilServing(run) {
  await waitUntil(async () => /Press Ctrl\+C to stop/.test(run.output) || run.child.exitCode !== null, {
    timeout: 300_000,
    message: `npm start serving:\n${run.output}`,
  });
  assert.equal(run.child.exitCode, null, `npm start ended early:\n${run.output}`);
  return /^\s+(http:\/\/127\.0\.0\.1:\d+\/\S*)$/m.exec(run.output)[1];
}

function serverRecords() {
  const dir = join(TOOLS, 'vscode/servers');
  try {
    return readdirSync(dir).map((n) => JSON.parse(readFileSync(join(dir, n), 'utf8')));
  } catch {
    return [];
  }
}

/** Processes in the process group `pgid` (code-server and everything it started), from /proc. */
function groupMembers(pgid) {
  const members = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') members.push(Number(pid));
    } catch {
      /* ended meanwhile */
    }
  }
  return members;
}

function signalGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
  } catch {
    /* already gone */
  }
}

e2eSuite('npm start', () => {
  const runs = [];
  before(async () => {
    assert.ok(await portIsFree(8080), 'port 8080 must be free for this test (npm start serves there by default)');
  });
  after(async () => {
    // After a failure: Ctrl+C what still runs, then make sure no code-server of this test survives.
    const servers = serverRecords().map((r) => r.serverPid);
    for (const r of runs.filter((x) => x.child.exitCode === null)) {
      signalGroup(r.child.pid, 'SIGINT');
      await Promise.race([r.exited, new Promise((resolve) => setTimeout(resolve, 15_000))]);
      signalGroup(r.child.pid, 'SIGKILL');
    }
    for (const pid of servers) signalGroup(pid, 'SIGKILL');
  });

  e2eTest(
    {}, // no session of its own: it drives npm start
    'two starts share the machine, a busy --port is explained, Ctrl+C stops both with nothing left running',
    async () => {
      const first = npmStart();
      runs.push(first);
      const firstUrl = await untilServing(first);
      assert.match(firstUrl, /^http:\/\/127\.0\.0\.1:8080\/\?folder=/);
      assert.match(first.output, /Reusing local-lm-lens-[\d.]+-[\w-]+\.vsix \(built from the current sources\)/);
      assert.doesNotMatch(first.output, /Packaging the extension/);

      const second = npmStart();
      runs.push(second);
      const secondUrl = await untilServing(second);
      const launcher = serverRecords().find((r) => r.port === 8080)?.launcherPid;
      assert.ok(launcher, `a record of the first start: ${JSON.stringify(serverRecords())}`);
      assert.match(second.output, new RegExp(`Port 8080 is in use: another npm start \\(pid ${launcher}\\) serves VS Code there: http://127\\.0\\.0\\.1:8080/`));
      const secondPort = Number(/^Using port (\d+) instead/m.exec(second.output)?.[1]);
      assert.ok(secondPort > 8080, second.output);
      assert.ok(secondUrl.startsWith(`http://127.0.0.1:${secondPort}/`), secondUrl);
      assert.match(second.output, /Already installed/);

      // Both editors work: the second one too, with the extension active (it shares .tools/vscode).
      const browser = await launchBrowser();
      try {
        const page = await openWorkbench(browser, secondUrl);
        const item = page.locator('.part.statusbar [id$="lmLens.status"]');
        await item.waitFor({ state: 'visible', timeout: 120_000 });
        assert.match(await item.innerText(), /gpt2-code/);
      } finally {
        await browser.close();
      }
      for (const url of [firstUrl, secondUrl]) assert.ok((await fetch(url, { redirect: 'manual' })).status < 400, url);

      const third = npmStart(['--port', '8080']);
      runs.push(third);
      const { code } = await third.exited;
      assert.equal(code, 1, third.output);
      assert.match(third.output, /npm start: Port 8080 is in use: another npm start .* serves VS Code there/);
      assert.match(third.output, /npm start -- --port <number>/);
      assert.doesNotMatch(third.output, STACK_LINE);

      const servers = serverRecords().map((r) => r.serverPid);
      assert.equal(servers.length, 2, JSON.stringify(serverRecords()));
      for (const run of [first, second]) signalGroup(run.child.pid, 'SIGINT'); // Ctrl+C in each terminal
      for (const run of [first, second]) {
        // npm re-raises the Ctrl+C it was sent once its script has exited (status 130 in a shell).
        const ended = await run.exited;
        assert.ok(ended.code === 0 || ended.signal === 'SIGINT', `${JSON.stringify(ended)}\n${run.output}`);
        assert.match(run.output, /Ctrl\+C: stopping VS Code…\nStopped\.\n?$/);
        assert.doesNotMatch(run.output, /exited on its own|Error|npm error/i);
        assert.doesNotMatch(run.output, STACK_LINE);
      }
      await waitUntil(() => servers.every((pid) => groupMembers(pid).length === 0), {
        timeout: 15_000,
        message: `no process left of code-server groups ${servers.join(', ')}: ${servers.map((p) => groupMembers(p).join(' ')).join(' | ')}`,
      });
      assert.deepEqual(serverRecords(), []);
      assert.ok(await portIsFree(8080));
      assert.ok(await portIsFree(secondPort));
    },
    { timeout: 600_000 },
  );
});

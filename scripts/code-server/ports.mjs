// Which port `npm start` serves on, and what runs where: each running start leaves a record
// (.tools/vscode/servers/<port>.json: its own pid and code-server's), so a busy port can be explained
// ("another npm start serves http://…") and a code-server whose launcher was killed outright
// (SIGKILL, a closed container shell) is stopped by the next start instead of lingering.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const recordsDir = (tools) => join(tools, 'vscode/servers');

function alive(pid) {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return e.code === 'EPERM';
  }
  try {
    // A killed launcher can linger as a zombie until something reaps it: that is not alive.
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc (macOS): signal 0 is all we know
  }
}

function records(tools) {
  let names = [];
  try {
    names = readdirSync(recordsDir(tools)).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  const out = [];
  for (const name of names) {
    const file = join(recordsDir(tools), name);
    try {
      out.push({ file, ...JSON.parse(readFileSync(file, 'utf8')) });
    } catch {
      rmSync(file, { force: true }); // half-written by a start that was killed
    }
  }
  return out;
}

export function recordServer(tools, { port, url, serverPid, launcherPid }) {
  mkdirSync(recordsDir(tools), { recursive: true });
  writeFileSync(join(recordsDir(tools), `${port}.json`), JSON.stringify({ port, url, serverPid, launcherPid }) + '\n');
}

export function forgetServer(tools, port) {
  rmSync(join(recordsDir(tools), `${port}.json`), { force: true });
}

/** Stops code-servers whose `npm start` is gone; drops records of servers that ended. Returns notes. */
export function stopOrphanedServers(tools) {
  const notes = [];
  for (const r of records(tools)) {
    if (alive(r.launcherPid)) continue;
    if (alive(r.serverPid)) {
      try {
        process.kill(-r.serverPid, 'SIGTERM'); // its process group: code-server and its extension hosts
        notes.push(`Stopped VS Code on port ${r.port} (pid ${r.serverPid}), left running by an npm start that was killed.`);
      } catch {
        /* gone meanwhile */
      }
    }
    rmSync(r.file, { force: true });
  }
  return notes;
}

/** True when nothing listens on 127.0.0.1:`port` (what code-server binds). */
export function portIsFree(port) {
  return new Promise((resolveFree) => {
    const probe = createServer();
    probe.once('error', () => resolveFree(false));
    probe.listen({ port, host: '127.0.0.1', exclusive: true }, () => probe.close(() => resolveFree(true)));
  });
}

function holder(tools, port) {
  const r = records(tools).find((x) => x.port === port && alive(x.launcherPid));
  return r ? `another npm start (pid ${r.launcherPid}) serves VS Code there: ${r.url}` : 'another program listens there';
}

/**
 * The port to serve on. An explicit port (--port, PORT) is used as given or refused with a message;
 * the default 8080 moves to the next free port, and says so.
 */
export async function choosePort(tools, { port, explicit }) {
  if (await portIsFree(port)) return { port, note: null };
  if (explicit) {
    const err = new Error(`Port ${port} is in use: ${holder(tools, port)}.\nChoose another one: npm start -- --port <number>`);
    err.name = 'PortInUse';
    throw err;
  }
  for (let p = port + 1; p < port + 100 && p <= 65535; p++) {
    if (await portIsFree(p)) return { port: p, note: `Port ${port} is in use: ${holder(tools, port)}.\nUsing port ${p} instead (npm start -- --port <number> picks one).` };
  }
  throw new Error(`Ports ${port}-${port + 99} are all in use. Choose one: npm start -- --port <number>`);
}

import { systemCertificatesEnv } from './remote/systemCertificates';
import { fork } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import type { WorkerRequest, WorkerResponse } from './protocol';

/**
 * Where the engine runs. `process` (the default) is a forked Node process: a native crash, an
 * abort or an out-of-memory inside onnxruntime ends that process, never the extension host. A
 * `thread` shares the host's process (terminating it inside an onnxruntime run aborts both); it
 * stays for comparison in the benchmarks.
 */
export type Isolation = 'process' | 'thread';

export interface ChannelOptions {
  readonly isolation: Isolation;
  /** V8 heap ceiling of the engine process, in MiB (model weights live outside it, in onnxruntime). */
  readonly maxHeapMb: number;
  /** Extra environment for the engine process (tests switch on their crash hooks with it). */
  readonly env?: Readonly<Record<string, string>>;
}

export interface ChannelEvents {
  readonly onMessage: (msg: WorkerResponse) => void;
  /** The engine ended: `reason` says how (exit code, signal, or an error). */
  readonly onExit: (reason: string) => void;
  /** A line the engine process wrote to stderr (onnxruntime's own warnings, a native crash report). */
  readonly onStderr: (line: string) => void;
}

/** The host's end of one running engine. */
export interface EngineChannel {
  /** The engine process's id (undefined for a thread). */
  readonly pid: number | undefined;
  send(msg: WorkerRequest): void;
  /** Ends the engine now; resolves once it is gone. */
  kill(): Promise<void>;
}

export function startEngine(scriptPath: string, options: ChannelOptions, events: ChannelEvents): EngineChannel {
  return options.isolation === 'thread' ? startThread(scriptPath, options, events) : startProcess(scriptPath, options, events);
}

function startProcess(scriptPath: string, options: ChannelOptions, events: ChannelEvents): EngineChannel {
  const child = fork(scriptPath, [], {
    // Structured clone, as between threads: typed arrays and nested results arrive as they were sent.
    serialization: 'advanced',
    execArgv: [`--max-old-space-size=${options.maxHeapMb}`],
    // Servers behind an authority the system trusts (NODE_EXTRA_CA_CERTS is read when a process starts).
    env: { ...process.env, ...systemCertificatesEnv(process.env), ...options.env },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let buffered = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) events.onStderr(line);
  });
  let ended = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      ended = true;
      if (buffered.trim()) events.onStderr(buffered);
      events.onExit(signal ? `signal ${signal}` : `exit code ${code}`);
      resolve();
    });
  });
  child.on('error', (err) => {
    if (!ended) events.onStderr(`engine process error: ${err.message}`);
  });
  child.on('message', (msg) => events.onMessage(msg as WorkerResponse));
  return {
    pid: child.pid,
    send(msg) {
      if (!ended && child.connected) child.send(msg);
    },
    async kill() {
      if (!ended) child.kill('SIGKILL');
      await exited;
    },
  };
}

function startThread(scriptPath: string, options: ChannelOptions, events: ChannelEvents): EngineChannel {
  const worker = new Worker(scriptPath, { env: { ...process.env, ...options.env }, resourceLimits: { maxOldGenerationSizeMb: options.maxHeapMb } });
  let ended = false;
  const exited = new Promise<void>((resolve) => {
    worker.once('exit', (code) => {
      if (!ended) events.onExit(`exit code ${code}`);
      ended = true;
      resolve();
    });
  });
  worker.on('error', (err) => {
    if (!ended) events.onExit(err.message);
    ended = true;
  });
  worker.on('message', (msg: WorkerResponse) => events.onMessage(msg));
  return {
    pid: undefined,
    send(msg) {
      if (!ended) worker.postMessage(msg);
    },
    async kill() {
      await worker.terminate();
      await exited;
    },
  };
}

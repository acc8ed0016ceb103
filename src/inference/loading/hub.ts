import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { InferenceError } from '../errors';
import type { DtypeChoice, HubOptions, LoadProgress } from '../protocol';
import { planModelFiles, plannedPaths, readModelFolder } from './modelFolder';

const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;
const DEFAULT_HOST = 'https://huggingface.co/';
const REVISION = 'main';

/** Files every model needs besides its graphs; generation_config.json only where the repo has one. */
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json'];
/** A file being downloaded is kept under this suffix until it is complete, so a cached file is a whole file. */
const PARTIAL = '.incomplete';
/** The repo's file list, kept in the cached folder: what `auto` chooses from without asking the Hub again. */
const LISTING = '.hub-files.json';

export function defaultCacheDir(): string {
  return join(homedir(), '.cache', 'local-lm-lens', 'hub');
}

export interface HubDownload {
  readonly id: string;
  readonly hub: HubOptions;
  readonly dtype: DtypeChoice;
  readonly onGpu: boolean;
  /** The dtype is a preference: a model without it downloads the `auto` choice. */
  readonly fallback?: boolean;
  readonly onProgress?: (p: LoadProgress) => void;
  readonly isCancelled?: () => boolean;
}

/**
 * Makes a Hub model available as a local folder (`<cacheDir>/<owner>/<name>`, in Hub layout) by
 * downloading exactly the files its dtype needs: config, tokenizer and generation config, and the
 * ONNX graphs of its architecture in that dtype with their external data — chosen by the same plan
 * as a local folder (`planModelFiles`) from the repo's file list, which the cache keeps
 * (`.hub-files.json`) so that a cached model is found again without asking the Hub. Each file streams
 * to `<file>.incomplete` and is renamed when complete; an interrupted download resumes with a range request.
 */
export async function downloadFromHub(d: HubDownload): Promise<string> {
  const { id, hub } = d;
  if (!HUB_ID.test(id)) {
    throw new InferenceError('model-not-found', `"${id}" is neither a model folder nor a bundled model nor a Hub model id (owner/name).`);
  }
  const cacheDir = hub.cacheDir ?? defaultCacheDir();
  const folder = join(cacheDir, id);
  const gap = cacheGap(folder, d);
  if (gap === null) {
    d.onProgress?.({ file: id, loaded: 1, total: 1, status: 'cached' });
    return folder;
  }
  if (hub.offline) {
    // Offline, `auto` (or a preference) takes whatever complete choice the cache holds.
    if (usableOnDisk(folder, d)) {
      d.onProgress?.({ file: id, loaded: 1, total: 1, status: 'cached' });
      return folder;
    }
    throw new InferenceError('offline', `The model "${id}" is not complete in the cache (${folder}: ${gap}) and offline mode is on.`);
  }
  const host = (hub.remoteHost ?? DEFAULT_HOST).replace(/\/?$/, '/');
  const listing = await repoFiles(host, id, d.isCancelled);
  if (!listing.some((f) => f.startsWith('onnx/') && f.endsWith('.onnx'))) {
    throw new InferenceError('model-not-found', `The Hub repo "${id}" has no onnx/ folder: it is not exported for transformers.js. Look for an Xenova/ or onnx-community/ version of the model.`);
  }
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, LISTING), JSON.stringify({ id, revision: REVISION, files: listing }));
  await downloadOnce(host, id, 'config.json', folder, d);
  for (const file of neededFiles(id, listing, readConfig(folder), d)) {
    if (!listing.includes(file)) throw new InferenceError('model-not-found', `The Hub repo "${id}" lacks ${file}, which the model needs.`);
    await downloadOnce(host, id, file, folder, d);
  }
  return folder;
}

/** The repo's file list as the cache remembers it. */
function rememberedListing(folder: string): string[] | undefined {
  try {
    const files = (JSON.parse(readFileSync(join(folder, LISTING), 'utf8')) as { files?: unknown }).files;
    return Array.isArray(files) && files.every((f) => typeof f === 'string') ? files : undefined;
  } catch {
    return undefined;
  }
}

function readConfig(folder: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')) as Record<string, unknown>;
}

/** Every file the model needs in the asked dtype, planned from the repo's file list (paths in the repo). */
function neededFiles(id: string, listing: readonly string[], config: Record<string, unknown>, d: HubDownload): string[] {
  const plan = planModelFiles({
    where: `the Hub repo "${id}"`,
    listing: listing.filter((f) => f.startsWith('onnx/')).map((f) => f.slice('onnx/'.length)),
    config,
    dtype: d.dtype,
    onGpu: d.onGpu,
    fallback: d.fallback,
  });
  return ['config.json', ...TOKENIZER_FILES, ...(listing.includes('generation_config.json') ? ['generation_config.json'] : []), ...plannedPaths(plan.files)];
}

/**
 * Null when the cache holds every file the asked dtype needs, planned from the remembered file list
 * (so `auto` and a preference choose as they would online, not from whatever dtype happens to be
 * cached); else what is missing.
 */
function cacheGap(folder: string, d: HubDownload): string | null {
  const listing = rememberedListing(folder);
  if (!listing || !existsSync(join(folder, 'config.json'))) return 'nothing downloaded yet';
  try {
    const missing = neededFiles(d.id, listing, readConfig(folder), d).filter((f) => !existsSync(join(folder, f)));
    return missing.length === 0 ? null : `missing ${missing.join(', ')}`;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Whether the folder, read as a local one, has a complete model in the asked dtype (or, for `auto`, any). */
function usableOnDisk(folder: string, d: HubDownload): boolean {
  if (TOKENIZER_FILES.some((f) => !existsSync(join(folder, f)))) return false;
  try {
    readModelFolder(folder, d.dtype, d.onGpu, d.fallback);
    return true;
  } catch {
    return false;
  }
}

/**
 * How long a download may go without a byte before the try ends (it resumes on the next), as
 * huggingface_hub's read timeout; `LMLENS_HUB_STALL_MS` shortens it for tests.
 */
function stallLimitMs(): number {
  return Number(process.env.LMLENS_HUB_STALL_MS) || 30_000;
}

/**
 * Aborts a request when the user cancels or the server goes silent for the stall limit, checked on
 * a timer: a stalled connection delivers no chunk on which the read loop could check either (undici
 * would wait 300 s). `touch` on every chunk; `why` says which ended it.
 */
class Watchdog {
  readonly controller = new AbortController();
  why: 'cancelled' | 'stalled' | undefined;
  private last = Date.now();
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(isCancelled: (() => boolean) | undefined, readonly limitMs = stallLimitMs()) {
    this.timer = setInterval(() => {
      if (isCancelled?.()) this.why = 'cancelled';
      else if (Date.now() - this.last > limitMs) this.why = 'stalled';
      else return;
      this.controller.abort();
    }, Math.min(250, limitMs / 2));
  }

  touch(): void {
    this.last = Date.now();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

async function request(url: string, init: RequestInit, what: string): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    if (init.signal?.aborted) throw err; // the watchdog's: its owner says why
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new InferenceError('download-failed', `Could not reach ${new URL(url).host} for ${what} (${cause?.code ?? cause?.message ?? (err as Error).message}). Check the network, or turn on offline mode to use only cached models.`);
  }
}

/** The repo's file names, from the Hub API (`GET /api/models/{id}/revision/{rev}` → `siblings[].rfilename`). */
async function repoFiles(host: string, id: string, isCancelled?: () => boolean): Promise<string[]> {
  const url = `${host}api/models/${id}/revision/${REVISION}`;
  const watchdog = new Watchdog(isCancelled);
  try {
    const res = await request(url, { signal: watchdog.controller.signal }, `the file list of "${id}"`);
    if (res.status === 401 || res.status === 403 || res.status === 404) {
      throw new InferenceError('model-not-found', `The Hub has no model "${id}" (or it is private or gated: HTTP ${res.status}).`);
    }
    if (!res.ok) throw new InferenceError('download-failed', `The Hub answered HTTP ${res.status} for the file list of "${id}".`);
    const body = (await res.json()) as { siblings?: { rfilename?: unknown }[] };
    return (body.siblings ?? []).map((s) => s.rfilename).filter((f): f is string => typeof f === 'string');
  } catch (err) {
    if (watchdog.why === 'cancelled') throw cancelledError(id);
    if (watchdog.why === 'stalled') throw new InferenceError('download-failed', `${new URL(url).host} sent nothing for ${watchdog.limitMs / 1000} s when asked for the file list of "${id}". Check the network, or turn on offline mode to use only cached models.`);
    throw err;
  } finally {
    watchdog.stop();
  }
}

/**
 * The downloads under way in this process, by target path. Two loads of one model at once (a command
 * and an inline completion; a model check and the load it precedes) would otherwise both write the
 * same `<file>.incomplete`; a second asker waits for the first, then finds the file complete, or,
 * where the first failed or was cancelled, tries for itself (resuming). Module-wide like the disk it guards.
 */
const inFlight = new Map<string, Promise<void>>();

async function downloadOnce(host: string, id: string, file: string, folder: string, d: HubDownload): Promise<void> {
  const target = join(folder, file);
  for (let running = inFlight.get(target); running; running = inFlight.get(target)) {
    await running.catch(() => undefined); // the first asker reports its own failure
  }
  const download = downloadFile(host, id, file, folder, d).finally(() => inFlight.delete(target));
  inFlight.set(target, download);
  return download;
}

/**
 * Downloads one file unless it is already complete, resuming a partial one: the bytes already in
 * `<file>.incomplete` are asked for no more (`Range`); a server that ignores the range (200) sends
 * the whole file again and the partial one is started over.
 */
async function downloadFile(host: string, id: string, file: string, folder: string, d: HubDownload): Promise<void> {
  const target = join(folder, file);
  if (existsSync(target)) return;
  mkdirSync(dirname(target), { recursive: true });
  const url = `${host}${id}/resolve/${REVISION}/${file.split('/').map(encodeURIComponent).join('/')}`;
  // A partial file the server says is too long is deleted and the file fetched again, from 0.
  while (!(await watched(url, file, target, d))) continue;
}

/** One try at a file, ended by a cancel or a silent server as well as by its own end. */
async function watched(url: string, file: string, target: string, d: HubDownload): Promise<boolean> {
  const watchdog = new Watchdog(d.isCancelled);
  try {
    return await receive(url, file, target, d, watchdog);
  } catch (err) {
    if (watchdog.why === 'cancelled') throw cancelledError(d.id);
    if (watchdog.why === 'stalled') {
      const got = existsSync(target + PARTIAL) ? statSync(target + PARTIAL).size : 0;
      throw new InferenceError('download-failed', `Downloading ${file} of "${d.id}" stopped: ${new URL(url).host} sent nothing for ${watchdog.limitMs / 1000} s (after ${got} bytes); it resumes from there on the next try.`);
    }
    throw err;
  } finally {
    watchdog.stop();
  }
}

function cancelledError(id: string): InferenceError {
  return new InferenceError('cancelled', `The download of "${id}" was cancelled; it resumes where it stopped next time.`);
}

/** Streams the file (or its rest) to `<file>.incomplete` and renames it when whole; false: start over. */
async function receive(url: string, file: string, target: string, d: HubDownload, watchdog: Watchdog): Promise<boolean> {
  const { id } = d;
  const partial = target + PARTIAL;
  const have = existsSync(partial) ? statSync(partial).size : 0;
  // Identity encoding, as huggingface_hub and huggingface.js ask: a compressed answer's Content-Length
  // is not the file's size (fetch inflates it), and byte ranges are offsets into the file itself.
  const headers: Record<string, string> = { 'Accept-Encoding': 'identity', ...(have > 0 ? { Range: `bytes=${have}-` } : {}) };
  const res = await request(url, { headers, signal: watchdog.controller.signal }, file);
  if (res.status === 416 && have > 0) {
    // Nothing left to send: the partial file is whole (the rename was what was interrupted), unless
    // the server's size (`Content-Range: bytes */<size>`) says otherwise; then it starts over.
    const size = /\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1];
    if (size === undefined || Number(size) === have) {
      renameSync(partial, target);
      return true;
    }
    unlinkSync(partial);
    return false;
  }
  if (res.status === 404 || res.status === 401 || res.status === 403) {
    throw new InferenceError('model-not-found', `The Hub repo "${id}" has no ${file} (HTTP ${res.status}).`);
  }
  if (!res.ok || !res.body) throw new InferenceError('download-failed', `Downloading ${file} of "${id}" failed: HTTP ${res.status}.`);
  const resumed = res.status === 206;
  const start = resumed ? have : 0;
  const length = Number(res.headers.get('content-length'));
  const total = Number.isFinite(length) && length > 0 ? start + length : 0;
  const out = createWriteStream(partial, { flags: resumed ? 'a' : 'w' });
  let loaded = start;
  let lastReport = 0;
  const report = (status: LoadProgress['status']): void => d.onProgress?.({ file, loaded, total, status });
  report('download');
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      watchdog.touch();
      if (d.isCancelled?.()) throw cancelledError(id);
      if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      loaded += chunk.byteLength;
      if (Date.now() - lastReport > 200) {
        lastReport = Date.now();
        report('download');
      }
    }
  } catch (err) {
    await closeStream(out);
    if (err instanceof InferenceError) throw err;
    throw new InferenceError('download-failed', `Downloading ${file} of "${id}" was interrupted after ${loaded} bytes (${(err as Error).message}); it resumes from there on the next try.`);
  }
  await closeStream(out);
  const size = statSync(partial).size;
  if (total > 0 && size !== total) {
    throw new InferenceError('download-failed', `Downloading ${file} of "${id}" stopped at ${size} of ${total} bytes; it resumes from there on the next try.`);
  }
  renameSync(partial, target);
  report('done');
  return true;
}

function closeStream(out: ReturnType<typeof createWriteStream>): Promise<void> {
  return new Promise((resolve) => out.end(() => resolve()));
}

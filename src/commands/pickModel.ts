/**
 * Pick a model for a role: recommended Hub models, the bundled, configured and recent ones, a folder,
 * or a Hub id; then the dtype. The model is loaded and checked to fit the role before it is saved: a
 * model that does not load or cannot do the role is neither saved nor added to Recent.
 */
import * as vscode from 'vscode';
import { formatSize, knownDtypes, recommendedFor, sizeSummary, RECOMMENDED_MODELS } from '../catalog/recommendedModels';
import { roleMismatch } from '../catalog/roleFit';
import { MODEL_ROLES, setDtype, setModel, type ModelRole } from '../config';
import type { Ctx } from '../context';
import { DTYPE_CHOICES, DTYPE_DESCRIPTION } from '../inference/models/dtype';
import type { DtypeChoice, ServingApi } from '../inference/protocol';
import { DEFAULT_ENDPOINTS, formatServedSource, parseServedSource } from '../catalog/servedSource';

export interface PickModelArgs {
  readonly role?: ModelRole;
  /** Use this source without asking for one. */
  readonly source?: string;
  /** Use this dtype without asking (only with `source`; default: the current setting). */
  readonly dtype?: DtypeChoice;
  /**
   * Load and check the model before saving it (default true). `false` saves the source unchecked
   * (tests and scripted setups that load later).
   */
  readonly load?: boolean;
}

interface SourceItem extends vscode.QuickPickItem {
  readonly source?: string;
  readonly action?: 'folder' | 'hub' | 'served';
}

export async function pickModel(ctx: Ctx, args: PickModelArgs = {}): Promise<string | undefined> {
  const role = args.role ?? (await pickRole(ctx));
  if (!role) return undefined;
  for (;;) {
    const source = args.source ?? (await pickSource(ctx, role));
    if (!source) return undefined;
    if (args.load === false) {
      await save(ctx, role, source, args.dtype);
      return source;
    }
    // Bundled models ship full precision only, and a server runs what it loaded: no dtype to choose.
    const bundled = ctx.bundledModels().includes(source) || parseServedSource(source) !== undefined;
    const dtype = args.dtype ?? (args.source || bundled ? ctx.config.dtype : await pickDtype(ctx, source));
    if (!dtype) return undefined;
    const problem = await check(ctx, role, source, dtype);
    if (problem === null) {
      await save(ctx, role, source, dtype);
      return source;
    }
    if (problem === 'cancelled') return undefined;
    const message = `${source} was not saved as the ${role} model: ${problem}`;
    if (args.source) {
      // Scripted: report without waiting for an answer (there is nothing else to pick).
      void vscode.window.showErrorMessage(message, 'Show Log').then((a) => a && ctx.log.show());
      return undefined;
    }
    const again = await vscode.window.showErrorMessage(message, 'Pick Another', 'Show Log');
    if (again === 'Show Log') ctx.log.show();
    if (again !== 'Pick Another') return undefined;
  }
}

async function save(ctx: Ctx, role: ModelRole, source: string, dtype: DtypeChoice | undefined): Promise<void> {
  await setModel(role, source);
  if (dtype !== undefined && dtype !== ctx.config.dtype) await setDtype(dtype);
  await ctx.rememberModel(source);
  ctx.log.info(`Model for ${role}: ${source}${dtype ? ` (${dtype})` : ''}`);
}

/**
 * Loads the model as it would be used, under a cancellable notification (a Hub download can be
 * long), and checks it fits the role: null when it does, else why not.
 */
async function check(ctx: Ctx, role: ModelRole, source: string, dtype: DtypeChoice): Promise<string | null | 'cancelled'> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Local LM Lens: checking ${ctx.modelLabel(source)} (${dtype})`, cancellable: true },
    async (progress, token) => {
      const abort = new AbortController();
      const sub = token.onCancellationRequested(() => abort.abort());
      try {
        const result = await loadAndFit(ctx, role, source, dtype, abort.signal, (message) => progress.report({ message }));
        return abort.signal.aborted ? 'cancelled' : result;
      } finally {
        sub.dispose();
      }
    },
  );
}

async function loadAndFit(ctx: Ctx, role: ModelRole, source: string, dtype: DtypeChoice, signal: AbortSignal, report: (message: string) => void): Promise<string | null | 'cancelled'> {
  try {
    const info = await ctx.load({ ...ctx.spec(role, { source }), dtype }, { signal, report });
    const mismatch = roleMismatch(role, info);
    if (mismatch) {
      ctx.log.warn(`${source} does not fit the ${role} role: ${mismatch}`);
      ctx.showModelFailed(source, mismatch);
      return mismatch;
    }
    if (info.dtypeNote) void vscode.window.showInformationMessage(`${ctx.modelLabel(source)}: ${info.dtypeNote}`);
    return null;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if ((err as { code?: string }).code === 'cancelled') return 'cancelled';
    return message;
  }
}

async function pickRole(ctx: Ctx): Promise<ModelRole | undefined> {
  const pick = await vscode.window.showQuickPick(
    MODEL_ROLES.map((role) => ({ label: role[0]!.toUpperCase() + role.slice(1), description: ctx.config.models[role], role })),
    { title: 'Pick a model for…' },
  );
  return pick?.role;
}

async function pickSource(ctx: Ctx, role: ModelRole): Promise<string | undefined> {
  const current = ctx.config.models[role];
  const seen = new Set<string>();
  const items: SourceItem[] = [];
  const group = (label: string, sources: readonly { source: string; detail: string }[]): void => {
    const fresh = sources.filter((s, i) => !seen.has(s.source) && sources.findIndex((o) => o.source === s.source) === i);
    if (!fresh.length) return;
    items.push({ label, kind: vscode.QuickPickItemKind.Separator });
    for (const s of fresh) {
      seen.add(s.source);
      items.push({ label: s.source, description: s.source === current ? `${s.detail} · current` : s.detail, source: s.source });
    }
  };
  const plain = (detail: string) => (source: string) => ({ source, detail });
  group('Bundled', ctx.bundledModels().map(plain('bundled, works offline')));
  group('Configured', MODEL_ROLES.map((r) => ctx.config.models[r]).map(plain('configured')));
  group('Recent', ctx.recentModels().map(plain('recent')));
  group('Recommended from the Hugging Face Hub', recommendedFor(role).map((m) => ({ source: m.id, detail: `${m.note} · ${sizeSummary(m)}` })));
  items.push({ label: 'Other', kind: vscode.QuickPickItemKind.Separator });
  items.push({ label: '$(folder-opened) Choose a model folder…', action: 'folder' });
  items.push({ label: '$(cloud-download) Enter a Hugging Face Hub id…', action: 'hub' });
  items.push({ label: '$(server) Use a serving engine (vLLM, llama.cpp, Ollama, LM Studio)…', action: 'served' });
  const pick = await vscode.window.showQuickPick(items, { title: `Model for ${role}`, placeHolder: current, matchOnDescription: true });
  if (!pick) return undefined;
  if (pick.source) return pick.source;
  if (pick.action === 'served') return pickServed(ctx);
  if (pick.action === 'folder') {
    const uri = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Use this model folder' });
    return uri?.[0]?.fsPath;
  }
  return vscode.window.showInputBox({
    title: 'Hugging Face Hub model id',
    placeHolder: 'onnx-community/Qwen2.5-0.5B-Instruct',
    validateInput: (v) => (/^[\w.-]+\/[\w.-]+$/.test(v.trim()) ? undefined : 'An id looks like owner/name'),
  });
}

/** The dtype step: auto or one dtype, with the download of a recommended model. */
async function pickDtype(ctx: Ctx, source: string): Promise<DtypeChoice | undefined> {
  const known = RECOMMENDED_MODELS.find((m) => m.id === source);
  const size = (d: DtypeChoice): string => (known && d !== 'auto' && known.sizes[d] ? formatSize(known.sizes[d]) : '');
  const items = DTYPE_CHOICES.filter((d) => d === 'auto' || !known || knownDtypes(known).includes(d)).map((d) => ({
    label: d,
    description: [d === ctx.config.dtype ? 'current setting' : '', size(d)].filter(Boolean).join(' · '),
    detail: d === 'auto' ? "The repo's declared dtype, else the smallest file that runs well on this device" : DTYPE_DESCRIPTION[d],
    dtype: d,
  }));
  const pick = await vscode.window.showQuickPick(items, {
    title: `Which files of ${ctx.modelLabel(source)}? (lmLens.dtype, for every model; a model without it loads its auto choice)`,
    placeHolder: ctx.config.dtype,
  });
  return pick?.dtype;
}

const API_ITEMS: readonly { label: string; detail: string; api: ServingApi }[] = [
  { label: 'OpenAI-compatible', detail: 'POST /v1/completions: vLLM, LM Studio, llama.cpp (scoring text needs vLLM)', api: 'openai' },
  { label: 'llama.cpp server', detail: "llama-server's own /completion with n_probs", api: 'llama.cpp' },
  { label: 'Ollama', detail: '/api/generate with logprobs (Ollama 0.12 and later)', api: 'ollama' },
];

/** A model of a serving engine: the API, the URL, an optional API key (kept in secret storage), then one of the models it lists. */
async function pickServed(ctx: Ctx): Promise<string | undefined> {
  const apiPick = await vscode.window.showQuickPick(API_ITEMS, { title: 'How is the server spoken to?' });
  if (!apiPick) return undefined;
  const url = await vscode.window.showInputBox({
    title: `URL of the ${apiPick.label} server`,
    value: DEFAULT_ENDPOINTS[apiPick.api],
    validateInput: (v) => (/^https?:\/\/[^\s#]+$/.test(v.trim()) ? undefined : 'A URL such as http://127.0.0.1:8000/v1'),
  });
  if (!url) return undefined;
  const key = await vscode.window.showInputBox({ title: 'API key (leave empty if the server needs none; kept in the editor\'s secret storage)', password: true });
  if (key === undefined) return undefined;
  await ctx.storeApiKey(url.trim(), key.trim());
  const endpoint = { url: url.trim(), api: apiPick.api, ...(key.trim() ? { apiKey: key.trim() } : {}) };
  let names: readonly string[];
  try {
    names = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Local LM Lens: asking ${endpoint.url} for its models` }, () => ctx.client.servedModels(endpoint));
  } catch (err) {
    void vscode.window.showErrorMessage(`Local LM Lens: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
  if (names.length === 0) {
    void vscode.window.showErrorMessage(`Local LM Lens: ${endpoint.url} lists no models.`);
    return undefined;
  }
  const model = await vscode.window.showQuickPick(names.map((name) => ({ label: name })), { title: `Models served at ${endpoint.url}` });
  return model ? formatServedSource({ api: apiPick.api, url: endpoint.url, model: model.label }) : undefined;
}

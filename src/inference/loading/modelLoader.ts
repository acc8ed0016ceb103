import type * as ort from 'onnxruntime-node';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve as resolvePath } from 'node:path';
import { InferenceError } from '../errors';
import type { DecoderSession, LoadedModel } from '../models/modelAdapter';
import { CausalDecoderSession, describeCausalGraph } from '../models/causalLM';
import { EncoderDecoderSession, describeEncoderDecoder, type TappedSession } from '../models/encoderDecoder';
import { RnnSeq2SeqSession } from '../models/rnnSeq2Seq';
import { continuation, sourceToTarget } from '../models/inputPolicy';
import type { DevicePreference, DtypeChoice, ModelInfo, ModelSpec } from '../protocol';
import { onnxFileList, type OnnxFile } from '../models/modelFiles';
import { tapAttention } from './attentionTap';
import { LensHead } from '../models/lensHead';
import { modelGenerationDefaults } from '../decoding/generationConfig';
import { modelTasks } from '../tasks';
import { checkMultiTokenPasses, type DraftCheck } from '../decoding/draftExactness';
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { createSessionWithFallback } from './executionProviders';
import { configNumber, eosIds, readModelFolder, type ModelFolder } from './modelFolder';
import { loadTokenizer } from './tokenizer';
import { checkFitsInMemory } from './memoryCheck';
import { threadOptions } from './threadPolicy';

interface DeviceState {
  device: string;
  notes: string[];
}

function sessionOptions(graphBytes: number): ort.InferenceSession.SessionOptions {
  return { graphOptimizationLevel: 'all', ...threadOptions(graphBytes) };
}

/**
 * A session from a rewritten (tapped) graph: with its external data files, which a graph given as
 * bytes has no folder to find in (and the runtime refuses data outside the graph's folder, links
 * included). The graph is written beside the original for the time the session takes to create, so
 * the weights are read from disk as usual; where the folder is read-only, the data is handed over
 * as buffers (one more copy of the weights in memory while the session is created).
 */
async function createTappedSession(file: OnnxFile, bytes: Uint8Array, externalData: readonly string[], preference: DevicePreference, options: ort.InferenceSession.SessionOptions) {
  if (externalData.length === 0) return createSessionWithFallback(bytes, preference, options);
  const onnxDir = dirname(file.path);
  const beside = join(onnxDir, `.lmlens-tapped-${process.pid}-${basename(file.path)}`);
  let written = false;
  try {
    writeFileSync(beside, bytes);
    written = true;
  } catch {
    // a read-only folder: hand over the data below
  }
  if (written) {
    try {
      return await createSessionWithFallback(beside, preference, options);
    } finally {
      rmSync(beside, { force: true });
    }
  }
  const data = externalData.map((location) => ({ path: location, data: readFileSync(resolvePath(onnxDir, location)) }));
  return createSessionWithFallback(bytes, preference, { ...options, externalData: data });
}

/** A graph's session and, when loaded for inspection, what it can show. */
interface OpenedGraph {
  readonly tapped: TappedSession;
  readonly unavailable: string | null;
  readonly state: DeviceState;
  /** The output head for the logit lens (decoder graphs loaded for inspection). */
  readonly lens?: LensHead;
  readonly lensUnavailable: string | null;
}

/** How many blocks a decoder graph has, for the logit lens. */
function decoderLayers(config: ModelFolder['config'], role: 'causal' | 'encoder' | 'decoder'): number {
  if (role === 'encoder') return 0;
  const names = role === 'causal' ? ['num_hidden_layers', 'n_layer', 'num_layers'] : ['decoder_layers', 'num_decoder_layers', 'num_layers'];
  return configNumber(config, names, 0);
}

/**
 * Creates a session for one graph. Loaded for inspection, the graph is tapped for its attention and,
 * in a decoder, for the residual stream after each block, whose output head becomes a second session.
 */
async function openGraph(
  folder: ModelFolder,
  file: OnnxFile,
  role: 'causal' | 'encoder' | 'decoder',
  spec: ModelSpec,
  state: DeviceState | undefined,
): Promise<OpenedGraph> {
  const preference: DevicePreference = (state?.device as DevicePreference | undefined) ?? spec.device ?? 'auto';
  const options = sessionOptions(weightBytes(file));
  let outputs: TappedSession['attentionOutputs'] = [];
  let residualOutputs: readonly string[] = [];
  let unavailable: string | null = null;
  let lensUnavailable: string | null = null;
  let lens: LensHead | undefined;
  let created: Awaited<ReturnType<typeof createSessionWithFallback>> | undefined;
  if (spec.attentions) {
    const tap = tapAttention(file.path, role, { queryMajor: attentionIsQueryMajor(folder.config), lensLayers: decoderLayers(folder.config, role) });
    unavailable = tap.unavailable;
    lensUnavailable = tap.lensUnavailable;
    if (tap.bytes) {
      outputs = tap.outputs;
      residualOutputs = tap.residualOutputs;
      created = await createTappedSession(file, tap.bytes, tap.externalData, preference, options);
    }
    if (tap.lensHead && residualOutputs.length > 0) {
      const head = await createTappedSession(file, tap.lensHead.bytes, tap.externalData, (created?.device as DevicePreference | undefined) ?? preference, options);
      lens = new LensHead(head.session, tap.lensHead.hiddenInput, tap.lensHead.shapeInputs, tap.lensHead.perPosition);
    }
  }
  created ??= await createSessionWithFallback(file.path, preference, options);
  return {
    tapped: { session: created.session, attentionOutputs: outputs, residualOutputs },
    unavailable,
    state: state ?? { device: created.device, notes: created.notes },
    lens,
    lensUnavailable,
  };
}

/** GPT-BigCode's multi-query attention returns its probabilities as `[batch, query, heads, key]`. */
function attentionIsQueryMajor(config: ModelFolder['config']): boolean {
  return config.model_type === 'gpt_bigcode' && config.multi_query !== false;
}

function weightBytes(file: OnnxFile): number {
  return [file.path, ...file.externalData].reduce((sum, f) => sum + statSync(f).size, 0);
}

/** The dtype the user asked for; `quantized` is the older name of q8. */
export function dtypeChoice(spec: ModelSpec): DtypeChoice {
  return spec.dtype ?? (spec.quantized ? 'q8' : 'auto');
}

const GPU_DEVICES = new Set(['cuda', 'dml', 'webgpu', 'coreml']);

/** Whether the dtype choice should prefer GPU files (only when a GPU device is asked for). */
export function prefersGpu(spec: ModelSpec): boolean {
  return GPU_DEVICES.has(spec.device ?? 'auto');
}

/** What to tell the user when a preferred dtype was not available. */
function dtypeNote(asked: DtypeChoice, files: readonly OnnxFile[], available: readonly string[]): { dtypeNote?: string } {
  if (asked === 'auto' || files.every((f) => f.dtype === asked)) return {};
  return { dtypeNote: `The model has no ${asked} files (it has ${available.join(', ') || 'other dtypes per file'}); loaded ${describeDtypes(files)} instead.` };
}

/** `q8`, or each file's dtype where they differ. */
function describeDtypes(files: readonly OnnxFile[]): string {
  const dtypes = new Set(files.map((f) => f.dtype));
  return dtypes.size === 1 ? files[0].dtype : files.map((f) => `${f.stem} ${f.dtype}`).join(', ');
}

function decoderStartIds(folder: ModelFolder): number[] {
  const raw = folder.generationConfig.decoder_start_token_id ?? folder.config.decoder_start_token_id ?? folder.config.bos_token_id ?? folder.config.pad_token_id;
  if (typeof raw !== 'number') throw new InferenceError('unsupported-model', `${folder.folder}: config.json has no decoder_start_token_id.`);
  return [raw];
}

/** Loads a model folder into sessions and a tokenizer, ready for the decoding loop. */
export async function loadModelFolder(folderPath: string, spec: ModelSpec): Promise<LoadedModel> {
  const started = performance.now();
  const folder = readModelFolder(folderPath, dtypeChoice(spec), prefersGpu(spec), spec.dtypeFallback ?? false);
  const fileList = onnxFileList(folder.files);
  checkFitsInMemory(spec.source, fileList.map((f) => f.path));
  const tokenizer = loadTokenizer(folderPath);
  const { config } = folder;
  const eos = eosIds(config, folder.generationConfig);
  const sessions: ort.InferenceSession[] = [];
  let start: (inputIds: readonly number[], attentions: boolean, lens?: boolean) => Promise<DecoderSession>;
  let deviceState: DeviceState;
  let unavailable: string | null = spec.attentions ? null : 'The model was loaded without attention capture.';
  let lens: LensHead | undefined;
  let lensUnavailable: string | null = spec.attentions ? null : 'The model was loaded without inspection (attention capture), which the logit lens needs.';
  let maxContext: number;
  let numLayers: number;
  let numHeads: number;
  let bosIds: number[] = [];

  const files = folder.files;
  if (files.kind === 'causal-lm') {
    const opened = await openGraph(folder, files.decoder, 'causal', spec, undefined);
    deviceState = opened.state;
    if (spec.attentions) unavailable = opened.unavailable;
    ({ lens } = opened);
    if (spec.attentions) lensUnavailable = opened.lensUnavailable;
    sessions.push(opened.tapped.session);
    const graph = describeCausalGraph(opened.tapped.session, config, opened.tapped.attentionOutputs, opened.tapped.residualOutputs);
    start = async (inputIds, attentions, withLens) => new CausalDecoderSession(graph, inputIds, attentions && graph.attentionOutputs.length > 0, (withLens ?? false) && lens !== undefined);
    maxContext = configNumber(config, ['max_position_embeddings', 'n_positions', 'n_ctx', 'seq_length'], 2048);
    numLayers = graph.numLayers;
    numHeads = configNumber(config, ['num_attention_heads', 'n_head', 'num_heads']);
    const bos = config.bos_token_id;
    if (typeof bos === 'number') bosIds = [bos];
  } else if (files.kind === 'rnn-seq2seq') {
    const enc = await openGraph(folder, files.encoder, 'encoder', { ...spec, attentions: false }, undefined);
    const dec = await openGraph(folder, files.decoderStep, 'decoder', { ...spec, attentions: false }, enc.state);
    deviceState = enc.state;
    unavailable = null; // the step graph always returns its alignment
    sessions.push(enc.tapped.session, dec.tapped.session);
    const graphs = { encoder: enc.tapped.session, decoderStep: dec.tapped.session };
    const startIds = decoderStartIds(folder);
    start = (inputIds) => RnnSeq2SeqSession.start(graphs, inputIds, startIds);
    maxContext = configNumber(config, ['max_source_length', 'max_position_embeddings'], 256);
    numLayers = 1;
    numHeads = 1;
    if (spec.attentions) lensUnavailable = 'The logit lens needs a transformer decoder; this model is an RNN.';
  } else {
    const enc = await openGraph(folder, files.encoder, 'encoder', spec, undefined);
    const dec = await openGraph(folder, files.decoder, 'decoder', spec, enc.state);
    const withPast = files.kind === 'encoder-decoder-split' ? await openGraph(folder, files.decoderWithPast, 'decoder', spec, enc.state) : undefined;
    deviceState = enc.state;
    if (spec.attentions) unavailable = enc.unavailable ?? dec.unavailable ?? withPast?.unavailable ?? null;
    if (spec.attentions) lensUnavailable = dec.lensUnavailable ?? withPast?.lensUnavailable ?? null;
    // One head serves both decoder graphs (the same weights): the second is not kept.
    await withPast?.lens?.dispose();
    lens = lensUnavailable === null ? dec.lens : undefined;
    if (lens === undefined) await dec.lens?.dispose();
    sessions.push(enc.tapped.session, dec.tapped.session, ...(withPast ? [withPast.tapped.session] : []));
    const graphs = describeEncoderDecoder(config, enc.tapped, dec.tapped, withPast?.tapped);
    const startIds = decoderStartIds(folder);
    start = (inputIds, attentions, withLens) => EncoderDecoderSession.start(graphs, inputIds, startIds, attentions && unavailable === null, (withLens ?? false) && lens !== undefined);
    maxContext = configNumber(config, ['max_position_embeddings', 'n_positions'], 512);
    numLayers = configNumber(config, ['decoder_layers', 'num_decoder_layers', 'num_layers']);
    numHeads = graphs.heads;
  }

  const tasks = modelTasks(config, [String(config._name_or_path ?? ''), spec.source, folderPath], () => tokenizer.get_vocab().keys());
  const draft = await measureDrafting(start, tokenizer, files.kind === 'rnn-seq2seq');

  const info: ModelInfo = {
    source: spec.source,
    folder: folderPath,
    modelType: config.model_type,
    architecture: folder.architecture,
    device: deviceState.device,
    deviceNotes: deviceState.notes,
    maxContext,
    vocabSize: configNumber(config, ['vocab_size'], 0),
    numLayers,
    numHeads,
    tasks: [...tasks.keys()],
    attentionUnavailable: unavailable,
    lensUnavailable: lens ? null : (lensUnavailable ?? 'The logit lens cannot be computed for this model.'),
    loadMs: performance.now() - started,
    onnxFiles: fileList.flatMap((f) => [f.path, ...f.externalData]).map((f) => relative(folderPath, f)),
    dtype: describeDtypes(fileList),
    ...dtypeNote(dtypeChoice(spec), fileList, folder.availableDtypes),
    draftingUnavailable: draft.reason,
    availableDtypes: folder.availableDtypes,
  };
  return {
    info,
    folder,
    tokenizer,
    eosTokenIds: eos,
    generationDefaults: modelGenerationDefaults(config, folder.generationConfig),
    draftsAreExact: draft.exact,
    tasks,
    bosIds,
    input: files.kind === 'causal-lm' ? continuation : sourceToTarget,
    start,
    lens,
    async dispose() {
      await Promise.all([...sessions.map((s) => s.release()), lens?.dispose()]);
    },
  };
}

/** Checks on real text whether several tokens may share a decoder pass (see draftExactness.ts). */
async function measureDrafting(
  start: (inputIds: readonly number[], attentions: boolean, lens?: boolean) => Promise<DecoderSession>,
  tokenizer: PreTrainedTokenizer,
  stateful: boolean,
): Promise<DraftCheck> {
  if (stateful) return { exact: false, maxDiff: NaN, reason: 'Prompt-lookup drafting is off for this model: its state cannot be cut back (an RNN).' };
  let ids = tokenizer.encode('The quick brown fox jumps over the lazy dog, and the dog sleeps.', { add_special_tokens: false }) as number[];
  if (ids.length < 7) ids = [...ids, ...Array.from({ length: 7 - ids.length }, (_, i) => i + 1)];
  return checkMultiTokenPasses(() => start(ids.slice(0, 4), false), ids.slice(4, 7));
}

export function modelKey(spec: ModelSpec, folder: string): string {
  return `${folder}|${spec.device ?? 'auto'}|${spec.attentions ? 'attn' : 'plain'}|${dtypeChoice(spec)}${spec.dtypeFallback ? '?' : ''}`;
}

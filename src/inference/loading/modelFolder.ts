import { existsSync, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { InferenceError } from '../errors';
import { configNumber, type ModelConfig, type ModelFolder, type OnnxFile, type OnnxFiles } from '../models/modelFiles';
import { DTYPES, chooseDtype, externalDataFiles, onnxFileName, type Dtype, type DtypeChoice } from '../models/dtype';

export { configNumber, type ModelConfig, type ModelFolder, type OnnxFiles };


const CAUSAL_TYPES = new Set([
  'gpt2', 'gptj', 'gpt_neo', 'gpt_neox', 'gpt_bigcode', 'codegen', 'llama', 'mistral', 'qwen2', 'qwen3', 'phi', 'phi3',
  'gemma', 'gemma2', 'gemma3_text', 'granite', 'olmo', 'olmo2', 'smollm3', 'stablelm', 'starcoder2', 'opt', 'bloom', 'falcon',
]);
const ENCODER_DECODER_TYPES = new Set(['t5', 'mt5', 'bart', 'mbart', 'marian', 'pegasus', 'm2m_100', 'longt5', 'blenderbot', 'blenderbot-small']);
export const RNN_SEQ2SEQ_TYPE = 'rnn-attention-seq2seq';

/** Is `source` a folder path (rather than a Hub id)? */
export function looksLikePath(source: string): boolean {
  return isAbsolute(source) || source.startsWith('.') || source.startsWith('~') || /^[a-zA-Z]:[\\/]/.test(source);
}

/** Resolves a model source to a folder: an existing path, a bundled model name, or null (a Hub id). */
export function resolveLocalFolder(source: string, bundledModelsDir: string): string | null {
  if (looksLikePath(source)) return resolve(source.replace(/^~(?=$|[\\/])/, process.env.HOME ?? '~'));
  const bundled = join(bundledModelsDir, source);
  if (existsSync(join(bundled, 'config.json'))) return bundled;
  // A relative folder that exists wins over a Hub id of the same shape.
  if (existsSync(join(resolve(source), 'config.json'))) return resolve(source);
  return null;
}

function readJson(path: string, what: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new InferenceError('model-not-found', `The model folder has no ${what} (${path}).`);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch (err) {
    throw new InferenceError('model-corrupt', `${what} is not valid JSON (${path}): ${(err as Error).message}`);
  }
}

/** A file that is listed but cannot be read (a link that leads nowhere) is an error, not a reason to load another file. */
function checkReadable(path: string): void {
  if (existsSync(path)) return;
  let why = 'points to nothing';
  try {
    realpathSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') why = 'is a loop of symbolic links';
  }
  throw new InferenceError('model-corrupt', `${path} ${why}: the model file cannot be read.`);
}

function listOnnx(folder: string): string[] {
  try {
    return readdirSync(join(folder, 'onnx'));
  } catch {
    return [];
  }
}

/** How the files of one model are chosen: the user's dtype, the config, the device, and the file names at hand. */
export interface FileChoice {
  /** Where the files are, for messages (a folder or a Hub id). */
  readonly where: string;
  /** The file names in onnx/. */
  readonly listing: readonly string[];
  readonly config: Record<string, unknown>;
  readonly dtype: DtypeChoice;
  readonly onGpu: boolean;
  /** A chosen dtype the model lacks is a preference: load the `auto` choice instead of failing. */
  readonly fallback?: boolean;
}

/** One graph file as planned, before it is looked for on disk: names relative to onnx/. */
export interface PlannedFile {
  readonly stem: string;
  readonly dtype: Dtype;
  readonly fileName: string;
  readonly externalData: readonly string[];
}

type Planned<T> = { readonly [K in keyof T]: T[K] extends OnnxFile ? PlannedFile : T[K] };
export type PlannedFiles = Planned<OnnxFiles>;

export interface ModelPlan {
  readonly architecture: ModelFolder['architecture'];
  readonly files: PlannedFiles;
  readonly availableDtypes: readonly Dtype[];
}

function dtypesOf(c: FileChoice, stem: string): Dtype[] {
  return DTYPES.filter((d) => c.listing.includes(onnxFileName(stem, d)));
}

/** The file of `stem` in the chosen dtype, or undefined when there is no file of that stem at all. */
function planFile(c: FileChoice, stem: string): PlannedFile | undefined {
  const available = dtypesOf(c, stem);
  if (available.length === 0) return undefined;
  const dtype = chooseDtype(c.dtype, stem, available, c.config, c.onGpu, c.where, c.fallback);
  const fileName = onnxFileName(stem, dtype);
  return { stem, dtype, fileName, externalData: externalDataFiles(c.config, fileName, stem) };
}

/** The dtypes in which every one of `stems` exists. */
function commonDtypes(c: FileChoice, stems: readonly string[]): Dtype[] {
  return DTYPES.filter((d) => stems.every((stem) => dtypesOf(c, stem).includes(d)));
}

/**
 * Which ONNX files a model needs, from its config and the names in its onnx/ folder (on disk, or a
 * Hub repo's file list): the stems of its architecture, one dtype per stem, their external data.
 * The one place that decides it, for local folders and downloads alike.
 */
export function planModelFiles(c: FileChoice): ModelPlan {
  const modelType = c.config.model_type;
  if (typeof modelType !== 'string') throw new InferenceError('unsupported-model', `config.json of ${c.where} has no "model_type".`);
  const missing = (what: string): never => {
    throw new InferenceError('model-not-found', `The ${modelType} model in ${c.where} has no ${what} in onnx/.`);
  };
  if (modelType === RNN_SEQ2SEQ_TYPE) {
    const encoder = planFile(c, 'encoder') ?? missing('encoder.onnx');
    const decoderStep = planFile(c, 'decoder_step') ?? missing('decoder_step.onnx');
    return { architecture: 'rnn-seq2seq', files: { kind: 'rnn-seq2seq', encoder, decoderStep }, availableDtypes: commonDtypes(c, ['encoder', 'decoder_step']) };
  }
  if (ENCODER_DECODER_TYPES.has(modelType) || c.config.is_encoder_decoder === true) {
    const encoder = planFile(c, 'encoder_model') ?? missing('encoder_model.onnx');
    const merged = planFile(c, 'decoder_model_merged');
    if (merged) {
      return { architecture: 'encoder-decoder', files: { kind: 'encoder-decoder-merged', encoder, decoder: merged }, availableDtypes: commonDtypes(c, ['encoder_model', 'decoder_model_merged']) };
    }
    const decoder = planFile(c, 'decoder_model') ?? missing('decoder_model_merged.onnx or decoder_model.onnx');
    const decoderWithPast = planFile(c, 'decoder_with_past_model') ?? missing('decoder_with_past_model.onnx');
    return {
      architecture: 'encoder-decoder',
      files: { kind: 'encoder-decoder-split', encoder, decoder, decoderWithPast },
      availableDtypes: commonDtypes(c, ['encoder_model', 'decoder_model', 'decoder_with_past_model']),
    };
  }
  if (CAUSAL_TYPES.has(modelType)) {
    // transformers.js loads onnx/model*.onnx; older Xenova exports have only decoder_model_merged*.onnx.
    const stem = dtypesOf(c, 'model').length > 0 ? 'model' : 'decoder_model_merged';
    const decoder = planFile(c, stem) ?? missing('model.onnx or decoder_model_merged.onnx');
    return { architecture: 'causal-lm', files: { kind: 'causal-lm', decoder }, availableDtypes: commonDtypes(c, [stem]) };
  }
  throw new InferenceError(
    'unsupported-model',
    `Unknown model type "${modelType}" in ${c.where}. Supported: decoder-only (${[...CAUSAL_TYPES].join(', ')}), encoder-decoder (${[...ENCODER_DECODER_TYPES].join(', ')}) and ${RNN_SEQ2SEQ_TYPE}.`,
  );
}

/** The planned files' names relative to the model folder (`onnx/model_q4.onnx`, `onnx/model.onnx_data`…). */
export function plannedPaths(files: PlannedFiles): string[] {
  return Object.values(files)
    .filter((f): f is PlannedFile => typeof f === 'object')
    .flatMap((f) => [f.fileName, ...f.externalData].map((n) => `onnx/${n}`));
}

/** A planned file found on disk: readable, with its external data present. */
function locate(folder: string, f: PlannedFile): OnnxFile {
  const path = join(folder, 'onnx', f.fileName);
  checkReadable(path);
  const externalData = f.externalData.map((name) => join(folder, 'onnx', name));
  for (const data of externalData) {
    if (!existsSync(data)) {
      throw new InferenceError('model-not-found', `${path} keeps its weights in ${basename(data)}, which is missing (an interrupted download?). config.json declares it in transformers.js_config.use_external_data_format.`);
    }
  }
  return { path, stem: f.stem, dtype: f.dtype, externalData };
}

/** Reads a model folder, classifies its architecture and finds its ONNX files in the chosen dtype. */
export function readModelFolder(folder: string, dtype: DtypeChoice = 'auto', onGpu = false, fallback = false): ModelFolder {
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw new InferenceError('model-not-found', `Model folder not found: ${folder}`);
  }
  const config = readJson(join(folder, 'config.json'), 'config.json');
  const generationConfig = existsSync(join(folder, 'generation_config.json'))
    ? readJson(join(folder, 'generation_config.json'), 'generation_config.json')
    : {};
  const plan = planModelFiles({ where: folder, listing: listOnnx(folder), config, dtype, onGpu, fallback });
  const p = plan.files;
  const files: OnnxFiles =
    p.kind === 'causal-lm'
      ? { kind: p.kind, decoder: locate(folder, p.decoder) }
      : p.kind === 'rnn-seq2seq'
        ? { kind: p.kind, encoder: locate(folder, p.encoder), decoderStep: locate(folder, p.decoderStep) }
        : p.kind === 'encoder-decoder-merged'
          ? { kind: p.kind, encoder: locate(folder, p.encoder), decoder: locate(folder, p.decoder) }
          : { kind: p.kind, encoder: locate(folder, p.encoder), decoder: locate(folder, p.decoder), decoderWithPast: locate(folder, p.decoderWithPast) };
  return { folder, config: config as ModelConfig, generationConfig, architecture: plan.architecture, files, availableDtypes: plan.availableDtypes };
}

/** Token ids that end generation (eos_token_id may be a number or a list). */
export function eosIds(config: Record<string, unknown>, generationConfig: Record<string, unknown>): number[] {
  const raw = generationConfig.eos_token_id ?? config.eos_token_id;
  if (typeof raw === 'number') return [raw];
  if (Array.isArray(raw)) return raw.filter((v): v is number => typeof v === 'number');
  return [];
}

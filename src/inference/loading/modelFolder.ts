import { existsSync, lstatSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { InferenceError } from '../errors';
import { configNumber, type ModelConfig, type ModelFolder, type OnnxFiles } from '../models/modelFiles';

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

/** The first of `names` in onnx/; a link there that leads nowhere is an error, not a reason to load another file. */
function firstExisting(folder: string, names: readonly string[]): string | undefined {
  for (const path of names.map((n) => join(folder, 'onnx', n))) {
    if (existsSync(path)) return path;
    let isLink = false;
    try {
      isLink = lstatSync(path).isSymbolicLink();
    } catch {
      continue; // not there at all
    }
    if (isLink) {
      let why = 'points to nothing';
      try {
        realpathSync(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ELOOP') why = 'is a loop of symbolic links';
      }
      throw new InferenceError('model-corrupt', `${path} ${why}: the model file cannot be read.`);
    }
  }
  return undefined;
}

function onnxNames(base: string, quantized: boolean): string[] {
  return quantized ? [`${base}_quantized.onnx`, `${base}_int8.onnx`, `${base}.onnx`] : [`${base}.onnx`, `${base}_quantized.onnx`];
}

/** Reads a model folder, classifies its architecture and finds its ONNX files. */
export function readModelFolder(folder: string, quantized = false): ModelFolder {
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw new InferenceError('model-not-found', `Model folder not found: ${folder}`);
  }
  const config = readJson(join(folder, 'config.json'), 'config.json');
  const modelType = config.model_type;
  if (typeof modelType !== 'string') {
    throw new InferenceError('unsupported-model', `config.json in ${folder} has no "model_type".`);
  }
  const generationConfig = existsSync(join(folder, 'generation_config.json'))
    ? readJson(join(folder, 'generation_config.json'), 'generation_config.json')
    : {};
  const missing = (what: string): never => {
    throw new InferenceError('model-not-found', `The ${modelType} model in ${folder} has no ${what} in onnx/.`);
  };

  if (modelType === RNN_SEQ2SEQ_TYPE) {
    const encoder = firstExisting(folder, onnxNames('encoder', quantized)) ?? missing('encoder.onnx');
    const decoderStep = firstExisting(folder, onnxNames('decoder_step', quantized)) ?? missing('decoder_step.onnx');
    return { folder, config: config as ModelConfig, generationConfig, architecture: 'rnn-seq2seq', files: { kind: 'rnn-seq2seq', encoder, decoderStep } };
  }
  if (ENCODER_DECODER_TYPES.has(modelType) || config.is_encoder_decoder === true) {
    const encoder = firstExisting(folder, onnxNames('encoder_model', quantized)) ?? missing('encoder_model.onnx');
    const merged = firstExisting(folder, onnxNames('decoder_model_merged', quantized));
    if (merged) {
      return { folder, config: config as ModelConfig, generationConfig, architecture: 'encoder-decoder', files: { kind: 'encoder-decoder-merged', encoder, decoder: merged } };
    }
    const decoder = firstExisting(folder, onnxNames('decoder_model', quantized)) ?? missing('decoder_model_merged.onnx or decoder_model.onnx');
    const decoderWithPast = firstExisting(folder, onnxNames('decoder_with_past_model', quantized)) ?? missing('decoder_with_past_model.onnx');
    return { folder, config: config as ModelConfig, generationConfig, architecture: 'encoder-decoder', files: { kind: 'encoder-decoder-split', encoder, decoder, decoderWithPast } };
  }
  if (CAUSAL_TYPES.has(modelType)) {
    const decoder =
      firstExisting(folder, [...onnxNames('model', quantized), ...onnxNames('decoder_model_merged', quantized)]) ??
      missing('model.onnx or decoder_model_merged.onnx');
    return { folder, config: config as ModelConfig, generationConfig, architecture: 'causal-lm', files: { kind: 'causal-lm', decoder } };
  }
  throw new InferenceError(
    'unsupported-model',
    `Unknown model type "${modelType}" in ${folder}. Supported: decoder-only (${[...CAUSAL_TYPES].join(', ')}), encoder-decoder (${[...ENCODER_DECODER_TYPES].join(', ')}) and ${RNN_SEQ2SEQ_TYPE}.`,
  );
}

/** Reads a numeric config field, trying several names (configs differ between families). */

/** Token ids that end generation (eos_token_id may be a number or a list). */
export function eosIds(config: Record<string, unknown>, generationConfig: Record<string, unknown>): number[] {
  const raw = generationConfig.eos_token_id ?? config.eos_token_id;
  if (typeof raw === 'number') return [raw];
  if (Array.isArray(raw)) return raw.filter((v): v is number => typeof v === 'number');
  return [];
}

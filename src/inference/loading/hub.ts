import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { InferenceError } from '../errors';
import type { HubOptions, LoadProgress } from '../protocol';

const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

export function defaultCacheDir(): string {
  return join(homedir(), '.cache', 'local-lm-lens', 'hub');
}

function hasOnnx(folder: string): boolean {
  return existsSync(join(folder, 'config.json')) && existsSync(join(folder, 'onnx')) && readdirSync(join(folder, 'onnx')).some((f) => f.endsWith('.onnx'));
}

interface TransformersProgress {
  status: string;
  file?: string;
  loaded?: number;
  total?: number;
}

/**
 * Makes a Hub model available as a local folder, downloading it through transformers.js's hub
 * utilities (which cache files as `<cacheDir>/<id>/<file>`, the Hub layout this engine reads).
 */
export async function downloadFromHub(id: string, hub: HubOptions, onProgress?: (p: LoadProgress) => void): Promise<string> {
  if (!HUB_ID.test(id)) {
    throw new InferenceError('model-not-found', `"${id}" is neither a model folder nor a bundled model nor a Hub model id (owner/name).`);
  }
  const cacheDir = hub.cacheDir ?? defaultCacheDir();
  const folder = join(cacheDir, id);
  if (hasOnnx(folder)) {
    onProgress?.({ file: id, loaded: 1, total: 1, status: 'cached' });
    return folder;
  }
  if (hub.offline) {
    throw new InferenceError('offline', `The model "${id}" is not in the cache (${cacheDir}) and offline mode is on.`);
  }
  const transformers = await import('@huggingface/transformers');
  const { env } = transformers;
  env.allowRemoteModels = true;
  env.allowLocalModels = false;
  env.useFSCache = true;
  env.cacheDir = cacheDir;
  env.remoteHost = hub.remoteHost ?? 'https://huggingface.co/';
  const progress_callback = (p: TransformersProgress): void => {
    if ((p.status === 'progress' || p.status === 'done') && p.file) {
      onProgress?.({ file: p.file, loaded: p.loaded ?? 0, total: p.total ?? 0, status: p.status === 'done' ? 'done' : 'download' });
    }
  };
  const options = { cache_dir: cacheDir, progress_callback };
  try {
    const config = (await transformers.AutoConfig.from_pretrained(id, options)) as unknown as { is_encoder_decoder?: boolean };
    await transformers.AutoTokenizer.from_pretrained(id, options);
    const auto = config.is_encoder_decoder ? transformers.AutoModelForSeq2SeqLM : transformers.AutoModelForCausalLM;
    const model = await auto.from_pretrained(id, { ...options, dtype: 'fp32', device: 'cpu' });
    await model.dispose();
  } catch (err) {
    const message = (err as Error).message;
    if (/404|not found|Could not locate/i.test(message)) throw new InferenceError('model-not-found', `The Hub has no model "${id}" with ONNX files: ${message}`);
    throw new InferenceError('model-not-found', `Downloading "${id}" failed: ${message}`);
  }
  if (!hasOnnx(folder)) throw new InferenceError('model-not-found', `Downloading "${id}" did not produce ONNX files in ${folder}.`);
  return folder;
}

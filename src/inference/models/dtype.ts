import { InferenceError } from '../errors';

/**
 * The data types of ONNX model files as transformers.js names them, and the file suffix each one has
 * (`onnx/<stem><suffix>.onnx`). Hub repos exported for transformers.js (Xenova/*, onnx-community/*)
 * ship some of these per model file; a folder is read exactly as transformers.js would read it.
 */
export const DTYPES = ['fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4'] as const;
export type Dtype = (typeof DTYPES)[number];
/** What a user asks for: a dtype, or `auto` (the repo's declared dtype, else the best file the folder has). */
export type DtypeChoice = Dtype | 'auto';
export const DTYPE_CHOICES: readonly DtypeChoice[] = ['auto', ...DTYPES];

export const DTYPE_SUFFIX: Readonly<Record<Dtype, string>> = {
  fp32: '',
  fp16: '_fp16',
  q8: '_quantized',
  int8: '_int8',
  uint8: '_uint8',
  q4: '_q4',
  q4f16: '_q4f16',
  bnb4: '_bnb4',
};

/** One line per dtype for messages and pickers. */
export const DTYPE_DESCRIPTION: Readonly<Record<Dtype, string>> = {
  fp32: 'full precision (32-bit floats)',
  fp16: 'half precision (16-bit floats; for GPUs)',
  q8: '8-bit dynamic quantization (`_quantized`)',
  int8: '8-bit signed weights',
  uint8: '8-bit unsigned weights',
  q4: '4-bit block quantization (MatMulNBits)',
  q4f16: '4-bit weights in a half-precision graph (for GPUs)',
  bnb4: '4-bit bitsandbytes quantization (MatMulBnb4)',
};

/**
 * Which dtype `auto` prefers where a folder has several and its config declares none: the smallest
 * file that runs at full speed on the device. A CPU runs 4- and 8-bit integer kernels natively but
 * fp16 graphs only through casts, so half precision comes last there; GPUs run half precision natively.
 */
const AUTO_ORDER_CPU: readonly Dtype[] = ['q4', 'q8', 'int8', 'uint8', 'bnb4', 'fp32', 'q4f16', 'fp16'];
const AUTO_ORDER_GPU: readonly Dtype[] = ['q4f16', 'fp16', 'q4', 'q8', 'int8', 'uint8', 'bnb4', 'fp32'];

export function isDtype(v: unknown): v is Dtype {
  return typeof v === 'string' && (DTYPES as readonly string[]).includes(v);
}

/** `onnx/<stem><suffix>.onnx` for a dtype. */
export function onnxFileName(stem: string, dtype: Dtype): string {
  return `${stem}${DTYPE_SUFFIX[dtype]}.onnx`;
}

/** The `transformers.js_config` block of a config.json, as far as file selection is concerned. */
export interface TransformersJsConfig {
  readonly dtype?: unknown;
  readonly kv_cache_dtype?: unknown;
  readonly use_external_data_format?: unknown;
}

export function transformersJsConfig(config: Record<string, unknown>): TransformersJsConfig {
  const c = config['transformers.js_config'];
  return c && typeof c === 'object' && !Array.isArray(c) ? (c as TransformersJsConfig) : {};
}

/** The dtype config.json declares for one file stem (a string for all files, or a record per stem). */
export function declaredDtype(config: Record<string, unknown>, stem: string): Dtype | undefined {
  const d = transformersJsConfig(config).dtype;
  const value = d && typeof d === 'object' ? (d as Record<string, unknown>)[stem] : d;
  return isDtype(value) ? value : undefined;
}

/**
 * Chooses the dtype of one model file: the user's choice where it is not `auto`; otherwise the
 * dtype config.json declares, where the folder has it; otherwise the device's preferred order among
 * the dtypes the folder has. `available` lists the dtypes present for this stem. With `fallback`, a
 * chosen dtype the folder lacks is a preference, and the `auto` choice is made instead.
 */
export function chooseDtype(
  choice: DtypeChoice | undefined,
  stem: string,
  available: readonly Dtype[],
  config: Record<string, unknown>,
  onGpu: boolean,
  where: string,
  fallback = false,
): Dtype {
  const have = (d: Dtype): boolean => available.includes(d);
  if (choice && choice !== 'auto' && !(fallback && !have(choice))) {
    if (have(choice)) return choice;
    const list = available.length ? available.map((d) => `${d} (${onnxFileName(stem, d)})`).join(', ') : 'none';
    throw new InferenceError(
      'model-not-found',
      `${where} has no ${choice} file for ${stem} (expected onnx/${onnxFileName(stem, choice)}). It has: ${list}. Choose one of those with the dtype setting (--dtype).`,
    );
  }
  const declared = declaredDtype(config, stem);
  if (declared && have(declared)) return declared;
  const order = onGpu ? AUTO_ORDER_GPU : AUTO_ORDER_CPU;
  const found = order.find(have);
  if (!found) throw new InferenceError('model-not-found', `${where} has no ONNX file for ${stem} (onnx/${stem}.onnx or a dtype variant such as ${stem}_quantized.onnx).`);
  return found;
}

/**
 * The external data files transformers.js loads beside an ONNX file, from `use_external_data_format`
 * (false / true = one chunk / a chunk count, or a record by file name or stem): `<file>_data`,
 * `<file>_data_1`, …
 */
export function externalDataFiles(config: Record<string, unknown>, fileName: string, stem: string): string[] {
  const raw = transformersJsConfig(config).use_external_data_format;
  let chunks = 0;
  if (raw && typeof raw === 'object') {
    const record = raw as Record<string, unknown>;
    chunks = Number(record[fileName] ?? record[stem] ?? 0);
  } else if (raw !== undefined && raw !== null) {
    chunks = Number(raw);
  }
  if (!Number.isInteger(chunks) || chunks < 0 || chunks > 100) {
    throw new InferenceError('model-corrupt', `config.json's transformers.js_config.use_external_data_format for ${fileName} is not a chunk count (${JSON.stringify(raw)}).`);
  }
  return Array.from({ length: chunks }, (_, i) => `${fileName}_data${i === 0 ? '' : `_${i}`}`);
}

// Shared test helpers: paths of the bundled models and fixtures, and the built engine.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const modelsDir = join(root, 'models');
export const fixturesDir = join(root, 'test', 'fixtures');
export const engineModule = join(root, 'dist', 'inference.js');

export const { Engine, InferenceClient, InferenceError } = await import(engineModule);

export function modelPath(name) {
  const bundled = join(modelsDir, name);
  return existsSync(join(bundled, 'config.json')) ? bundled : join(fixturesDir, name);
}

export function reference(name) {
  return JSON.parse(readFileSync(join(modelPath(name), 'reference.json'), 'utf8'));
}

export function newEngine() {
  return new Engine(modelsDir, { offline: true });
}

/** Asserts that every number of `actual` is within `tol` of `expected` (nested arrays). */
export function assertClose(actual, expected, tol, where = '') {
  if (Array.isArray(expected)) {
    assert.equal(actual.length, expected.length, `${where}: length`);
    expected.forEach((e, i) => assertClose(actual[i], e, tol, `${where}[${i}]`));
    return;
  }
  assert.ok(Math.abs(actual - expected) <= tol, `${where}: ${actual} vs ${expected} (tolerance ${tol})`);
}

/** Every attention row sums to 1 (within tol). */
export function assertRowsSumToOne(weights, tol = 1e-4) {
  for (const layer of weights) for (const head of layer) for (const row of head) {
    const sum = row.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) <= tol, `attention row sums to ${sum}`);
  }
}

export async function rejectsWithCode(promise, code, messagePattern) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.code, code, `expected code ${code}, got ${err.code}: ${err.message}`);
    if (messagePattern) assert.match(err.message, messagePattern);
    return true;
  });
}

/**
 * Each step's reference top-5 tokens appear among the engine's alternatives with the same
 * log-probability (within 1e-4); order may differ only between near-ties.
 */
export function assertTop5(tokens, top5, tol = 1e-4) {
  top5.forEach((step, i) => {
    const top = new Map(tokens[i].top.map((a) => [a.id, Math.log(a.prob)]));
    for (const s of step) {
      assert.ok(top.has(s.id), `step ${i}: reference token ${s.id} is among the alternatives`);
      assertClose(top.get(s.id), s.logprob, tol, `step ${i} token ${s.id}`);
    }
  });
}

/** The same model in the older split layout: decoder_model.onnx + decoder_with_past_model.onnx. */
export function splitLayout(folder) {
  const dir = mkdtempSync(join(tmpdir(), 'split-'));
  for (const f of readdirSync(folder)) if (f !== 'onnx') symlinkSync(join(folder, f), join(dir, f));
  mkdirSync(join(dir, 'onnx'));
  for (const f of ['encoder_model.onnx', 'decoder_model.onnx', 'decoder_with_past_model.onnx']) symlinkSync(join(folder, 'onnx', f), join(dir, 'onnx', f));
  return dir;
}

/** The same model with only `onnx/decoder_model_merged.onnx`, the other Hub layout of decoder-only exports. */
export function mergedLayout(folder) {
  const dir = mkdtempSync(join(tmpdir(), 'merged-'));
  for (const f of readdirSync(folder)) if (f !== 'onnx') symlinkSync(join(folder, f), join(dir, f));
  mkdirSync(join(dir, 'onnx'));
  symlinkSync(join(folder, 'onnx', 'decoder_model_merged.onnx'), join(dir, 'onnx', 'decoder_model_merged.onnx'));
  return dir;
}

/**
 * transformers.js's greedy generate() of a dtype file without repetition penalty, recording the
 * logits row of every step after the model's processors (a logits processor added after them).
 */
export async function transformersSteps(dir, key, causal, text, maxNewTokens) {
  const { AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer, LogitsProcessor, env } = await import('@huggingface/transformers');
  const Auto = causal ? AutoModelForCausalLM : AutoModelForSeq2SeqLM;
  env.allowRemoteModels = false;
  env.localModelPath = fixturesDir + '/';
  const [dtype, fileStem] = key.split(':');
  const name = dir.slice(fixturesDir.length + 1);
  const tokenizer = await AutoTokenizer.from_pretrained(name);
  const model = await Auto.from_pretrained(name, { dtype, device: 'cpu', ...(fileStem ? { model_file_name: fileStem } : {}) });
  const rows = [];
  class Recorder extends LogitsProcessor {
    _call(inputIds, logits) {
      rows.push(Array.from(logits.data));
      return logits;
    }
  }
  try {
    const inputs = tokenizer(text);
    const out = await model.generate({ ...inputs, max_new_tokens: maxNewTokens, do_sample: false, num_beams: 1, repetition_penalty: 1, logits_processor: [new Recorder()] });
    return { ids: Array.from(out.data, Number).slice(causal ? inputs.input_ids.dims[1] : 1), rows };
  } finally {
    await model.dispose();
  }
}

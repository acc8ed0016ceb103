// The engine's greedy output equals transformers.js's generate() on the same model folders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { modelPath, newEngine } from '../helpers.mjs';

const { AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer, env } = await import('@huggingface/transformers');
env.allowRemoteModels = false;

const engine = newEngine();
const cases = [
  { name: 'gpt2-code', auto: AutoModelForCausalLM, prompts: ['def __init__(self', 'import { readFileSync } from'] },
  { name: 'tiny-llama-gqa', auto: AutoModelForCausalLM, prompts: ['def __init__(self', 'The quick brown fox'] },
  { name: 'bart-translate-summarize', auto: AutoModelForSeq2SeqLM, prompts: ['translate English to German: Open file', 'translate English to French: Save changes?'] },
  { name: 'tiny-bart-random', auto: AutoModelForSeq2SeqLM, prompts: ['translate English to German: Open file', 'summarize: A tool to download files.'] },
].filter((c) => existsSync(join(modelPath(c.name), 'onnx')));

for (const c of cases) {
  test(`${c.name}: greedy ids equal transformers.js generate()`, async () => {
    const folder = modelPath(c.name);
    env.localModelPath = dirname(folder) + '/';
    const tokenizer = await AutoTokenizer.from_pretrained(basename(folder));
    const model = await c.auto.from_pretrained(basename(folder), { dtype: 'fp32', device: 'cpu' });
    try {
      for (const prompt of c.prompts) {
        const inputs = tokenizer(prompt);
        const out = await model.generate({ ...inputs, max_new_tokens: 12, do_sample: false, num_beams: 1 });
        const ids = Array.from(out.data, Number);
        const promptLength = c.auto === AutoModelForCausalLM ? inputs.input_ids.dims[1] : 1; // Seq2Seq output starts with the decoder start token
        const theirs = ids.slice(promptLength);
        const ours = await engine.generate({ model: { source: folder }, prompt, options: { maxNewTokens: 12 } });
        assert.deepEqual(ours.inputIds, Array.from(inputs.input_ids.data, Number), 'same prompt ids');
        assert.deepEqual(ours.tokens.map((t) => t.id), theirs, `greedy ids for ${JSON.stringify(prompt)}`);
      }
    } finally {
      await model.dispose();
    }
  });
}

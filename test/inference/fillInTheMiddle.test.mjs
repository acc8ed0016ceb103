// Fill-in-the-middle: the model's own format from its special tokens, ids equal to what transformers.js
// tokenizes for the same FIM prompt, the middle ends at the format's markers, a model without FIM
// tokens continues the prefix alone and says so; the CLI's --suffix; servers' /infill and suffix.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fixturesDir, modelPath, newEngine, rejectsWithCode, root } from '../helpers.mjs';
import { startLlamaCppServer, startOllamaServer, startOpenAiServer } from '../servers/servingEngines.mjs';

const engine = newEngine();
const bigcode = join(fixturesDir, 'hub-bigcode');
const servers = [];
after(() => Promise.all(servers.map((s) => s.close())));

test("StarCoder's format (GPT-BigCode replica): the prompt's ids and the greedy middle equal transformers.js's run of the same FIM prompt", async () => {
  const ref = JSON.parse(readFileSync(join(bigcode, 'reference.json'), 'utf8')).dtypes.fp32.prompts[1];
  assert.equal(ref.text, '<fim_prefix>def add(a, b):\n    <fim_suffix>\n    return c<fim_middle>');
  const r = await engine.generate({ model: { source: bigcode, dtype: 'fp32' }, prompt: 'def add(a, b):\n    ', suffix: '\n    return c', options: { strategy: 'greedy', maxNewTokens: ref.greedy_ids.length, repetitionPenalty: 1 } });
  assert.deepEqual(r.inputIds, ref.input_ids, 'the FIM prompt as transformers.js tokenizes it');
  assert.deepEqual(r.fim, { format: 'starcoder', promptTokens: ref.input_ids.length });
  const stops = new Set([0, 1, 2, 3]); // <|endoftext|>, <fim_prefix>, <fim_middle>, <fim_suffix>
  const until = ref.greedy_ids.findIndex((id) => stops.has(id));
  assert.deepEqual(r.tokens.map((t) => t.id), until < 0 ? ref.greedy_ids : ref.greedy_ids.slice(0, until + 1));
});

test('each family is recognised by its markers (and their stop tokens), a long prefix and suffix are cut nearest the cursor, a model without FIM tokens says it used the prefix alone', async () => {
  const { fimTokens } = await import(join(root, 'dist', 'inference.js'));
  assert.equal(typeof fimTokens, 'function');
  const vocab = (entries) => new Map(entries.map((t, i) => [t, 100 + i]));
  assert.equal(fimTokens(vocab(['<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>', '<|endoftext|>', '<|file_sep|>'])).format.name, 'qwen/codegemma');
  assert.deepEqual(fimTokens(vocab(['<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>', '<|endoftext|>', '<|file_sep|>'])).stopIds.sort(), [100, 101, 102, 103, 104]);
  assert.equal(fimTokens(vocab(['▁<PRE>', '▁<SUF>', '▁<MID>', '▁<EOT>'])).format.name, 'codellama');
  assert.equal(fimTokens(vocab(['<｜fim▁begin｜>', '<｜fim▁hole｜>', '<｜fim▁end｜>'])).format.name, 'deepseek');
  const codestral = fimTokens(vocab(['[PREFIX]', '[SUFFIX]']));
  assert.equal(codestral.format.order, 'spm');
  assert.equal(fimTokens(vocab(['<fim_prefix>', '<fim_suffix>'])), undefined, 'all three markers are needed');

  // Budget: the prefix keeps its end, the suffix its start.
  const { Engine } = await import(join(root, 'dist', 'inference.js'));
  const local = new Engine(join(root, 'models'), { offline: true });
  const long = await local.generate({ model: { source: bigcode, dtype: 'fp32' }, prompt: 'x = 1\n'.repeat(400), suffix: 'y = 2\n'.repeat(400), truncatePrompt: true, options: { strategy: 'greedy', maxNewTokens: 4 } });
  const info = await local.info({ source: bigcode, dtype: 'fp32' });
  assert.ok(long.fim.promptTokens + 4 <= info.maxContext, 'prompt and new tokens fit the context');
  assert.equal(long.inputIds[0], 1, 'starts with <fim_prefix>');
  assert.equal(long.inputIds.at(-1), 2, 'ends with <fim_middle>');
  await rejectsWithCode(local.generate({ model: { source: bigcode, dtype: 'fp32' }, prompt: 'x = 1\n'.repeat(400), suffix: 'y = 2\n'.repeat(400), options: { maxNewTokens: 4 } }), 'context-overflow', /before and after the cursor/);

  const gpt2 = { source: join(fixturesDir, 'hub-gpt2-merged'), dtype: 'fp32' };
  const plain = await engine.generate({ model: gpt2, prompt: 'def add(a, b):\n    ', suffix: '\n\nprint(add(1, 2))\n', options: { strategy: 'greedy', maxNewTokens: 6 } });
  const alone = await engine.generate({ model: gpt2, prompt: 'def add(a, b):\n    ', options: { strategy: 'greedy', maxNewTokens: 6 } });
  assert.equal(plain.text, alone.text);
  assert.equal(plain.fim, undefined);
  assert.match(plain.fimUnavailable, /has no fill-in-the-middle tokens: it continued the text before the cursor alone/);
  await rejectsWithCode(engine.generate({ model: { source: 'bart-translate-summarize' }, prompt: 'a', suffix: 'b' }), 'bad-request', /Seq2Seq/);
});

test('SPM order: a model whose config.json says "fim_order": "spm" gets the suffix first and the prefix last (the StarCoder markers in the FIM paper\'s SPM variant); a bad order is refused by name', async () => {
  const { fimTokens } = await import(join(root, 'dist', 'inference.js'));
  const vocab = new Map(['<fim_prefix>', '<fim_middle>', '<fim_suffix>', '<|endoftext|>'].map((t, i) => [t, 10 + i]));
  assert.equal(fimTokens(vocab).format.order, 'psm', "StarCoder's usual order");
  const spm = fimTokens(vocab, 'spm');
  assert.deepEqual([spm.format.name, spm.format.order, spm.prefixId, spm.suffixId, spm.middleId], ['starcoder spm', 'spm', 10, 12, 11]);

  // The bundled gpt2-code learned most of its FIM examples in SPM: its reference (PyTorch, checked against
  // transformers.js by verify_decoder.mjs) has the SPM prompt; the engine writes exactly its ids and middle.
  const config = JSON.parse(readFileSync(join(modelPath('gpt2-code'), 'config.json'), 'utf8'));
  assert.equal(config.fim_order, 'spm');
  const ref = JSON.parse(readFileSync(join(modelPath('gpt2-code'), 'reference.json'), 'utf8')).prompts
    .find((p) => p.text.startsWith('<fim_prefix><fim_suffix>'));
  assert.equal(ref.text, '<fim_prefix><fim_suffix>\n\n\nprint(add(1, 2))\n<fim_middle>def add(a, b):\n    return a');
  const r = await engine.generate({ model: { source: 'gpt2-code' }, prompt: 'def add(a, b):\n    return a', suffix: '\n\n\nprint(add(1, 2))\n', options: { strategy: 'greedy', maxNewTokens: ref.greedy_ids.length, repetitionPenalty: 1 } });
  assert.deepEqual(r.inputIds, ref.input_ids, 'the SPM prompt as the reference tokenizes it');
  assert.deepEqual(r.fim, { format: 'starcoder spm', promptTokens: ref.input_ids.length });
  const eot = config.eos_token_id;
  const until = ref.greedy_ids.indexOf(eot);
  assert.deepEqual(r.tokens.map((t) => t.id), until < 0 ? ref.greedy_ids : ref.greedy_ids.slice(0, until + 1));

  // A blank suffix (the cursor at the end of the file) is not filled toward: the prefix is continued alone.
  const atEnd = await engine.generate({ model: { source: 'gpt2-code' }, prompt: 'def add(a, b):\n    return a', suffix: '\n\n', options: { strategy: 'greedy', maxNewTokens: 8 } });
  const continued = await engine.generate({ model: { source: 'gpt2-code' }, prompt: 'def add(a, b):\n    return a', options: { strategy: 'greedy', maxNewTokens: 8 } });
  assert.deepEqual(atEnd.tokens.map((t) => t.id), continued.tokens.map((t) => t.id));
  assert.equal(atEnd.fim, undefined);
  assert.match(atEnd.fimUnavailable, /Nothing but blanks follows the cursor/);

  const dir = mkdtempSync(join(tmpdir(), 'fim-order-'));
  cpSync(modelPath('gpt2-code'), dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, fim_order: 'middle-first' }));
  try {
    await rejectsWithCode(engine.generate({ model: { source: dir }, prompt: 'a', suffix: 'b', options: { maxNewTokens: 2 } }), 'unsupported-model', /"fim_order": "middle-first"; it can be "psm" or "spm"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CLI: generate --prompt P --suffix S --json returns the middle and the formatted prompt\'s token count', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [join(root, 'dist', 'cli.js'), 'generate', '--model', bigcode, '--dtype', 'fp32', '--prompt', 'def add(a, b):\n    ', '--suffix', '\n    return c', '--strategy', 'greedy', '--max-new-tokens', '5', '--json']);
  const r = JSON.parse(stdout);
  assert.deepEqual(r.fim, { format: 'starcoder', promptTokens: 15 });
  assert.equal(r.tokens.length, 5);
  assert.equal(typeof r.text, 'string');
});

test('servers: llama.cpp fills the middle through /infill, Ollama through suffix; where a server refuses, the prefix is continued alone and fimUnavailable says why', async () => {
  const llama = await (async () => { const s = await startLlamaCppServer(); servers.push(s); return s; })();
  const r = await engine.generate({ model: { source: 'gpt2-code', endpoint: { url: llama.url, api: 'llama.cpp' } }, prompt: 'def add(a, b):\n    ', suffix: '\n    return c', options: { strategy: 'greedy', maxNewTokens: 4 } });
  const req = llama.requests.at(-1);
  assert.equal(req.path, '/infill');
  assert.deepEqual([req.body.input_prefix, req.body.input_suffix], ['def add(a, b):\n    ', '\n    return c']);
  assert.equal(r.tokens.length, 4);
  const ollama = await startOllamaServer({ insert: true });
  servers.push(ollama);
  await engine.generate({ model: { source: 'gpt2-code', endpoint: { url: ollama.url, api: 'ollama' } }, prompt: 'def add(a, b):\n    ', suffix: '\n    return c', options: { maxNewTokens: 3 } });
  assert.equal(ollama.requests.at(-1).body.suffix, '\n    return c');
  assert.equal(ollama.requests.at(-1).body.raw, undefined, 'the template renders prompt and suffix (raw off)');
  const refusing = await startOllamaServer();
  servers.push(refusing);
  const alone = (await engine.generate({ model: { source: 'gpt2-code' }, prompt: 'a', options: { strategy: 'greedy', maxNewTokens: 3, repetitionPenalty: 1 } })).text;
  const fromOllama = await engine.generate({ model: { source: 'gpt2-code', endpoint: { url: refusing.url, api: 'ollama' } }, prompt: 'a', suffix: 'b', options: { strategy: 'greedy', maxNewTokens: 3 } });
  assert.match(fromOllama.fimUnavailable, /does not support insert.*no fill-in-the-middle template.*continued alone/);
  assert.equal(fromOllama.text, alone);
  assert.equal(refusing.requests.at(-1).body.raw, true, 'the prefix alone, raw');
  const noInfill = await startLlamaCppServer({ noInfill: true });
  servers.push(noInfill);
  const fromLlama = await engine.generate({ model: { source: 'gpt2-code', endpoint: { url: noInfill.url, api: 'llama.cpp' } }, prompt: 'a', suffix: 'b', options: { strategy: 'greedy', maxNewTokens: 3 } });
  assert.match(fromLlama.fimUnavailable, /501: Infill is not supported by this model.*no fill-in-the-middle tokens.*continued alone/);
  assert.deepEqual(noInfill.requests.map((q) => q.path), ['/infill', '/completion']);
  assert.equal(fromLlama.text, alone);
  const vllm = await startOpenAiServer();
  servers.push(vllm);
  const fromVllm = await engine.generate({ model: { source: 'gpt2-code', endpoint: { url: `${vllm.url}/v1` } }, prompt: 'a', suffix: 'b', options: { strategy: 'greedy', maxNewTokens: 3 } });
  assert.match(fromVllm.fimUnavailable, /suffix is not currently supported/);
  assert.equal(fromVllm.text, alone);
});

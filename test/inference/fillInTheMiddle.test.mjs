// Fill-in-the-middle: the model's own format from its special tokens, ids equal to what transformers.js
// tokenizes for the same FIM prompt, the middle ends at the format's markers, a model without FIM
// tokens continues the prefix alone and says so; the CLI's --suffix; servers' /infill and suffix.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fixturesDir, newEngine, rejectsWithCode, root } from '../helpers.mjs';
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

  const plain = await engine.generate({ model: { source: 'gpt2-code' }, prompt: 'def add(a, b):\n    ', suffix: '\n\nprint(add(1, 2))\n', options: { strategy: 'greedy', maxNewTokens: 6 } });
  const alone = await engine.generate({ model: { source: 'gpt2-code' }, prompt: 'def add(a, b):\n    ', options: { strategy: 'greedy', maxNewTokens: 6 } });
  assert.equal(plain.text, alone.text);
  assert.equal(plain.fim, undefined);
  assert.match(plain.fimUnavailable, /has no fill-in-the-middle tokens: it continued the text before the cursor alone/);
  await rejectsWithCode(engine.generate({ model: { source: 'bart-translate-summarize' }, prompt: 'a', suffix: 'b' }), 'bad-request', /Seq2Seq/);
});

test('CLI: generate --prompt P --suffix S --json returns the middle and the formatted prompt\'s token count', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [join(root, 'dist', 'cli.js'), 'generate', '--model', bigcode, '--dtype', 'fp32', '--prompt', 'def add(a, b):\n    ', '--suffix', '\n    return c', '--strategy', 'greedy', '--max-new-tokens', '5', '--json']);
  const r = JSON.parse(stdout);
  assert.deepEqual(r.fim, { format: 'starcoder', promptTokens: 15 });
  assert.equal(r.tokens.length, 5);
  assert.equal(typeof r.text, 'string');
});

test('servers: llama.cpp fills the middle through /infill, Ollama through suffix; a server that refuses a suffix says so', async () => {
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
  await rejectsWithCode(engine.generate({ model: { source: 'gpt2-code', endpoint: { url: refusing.url, api: 'ollama' } }, prompt: 'a', suffix: 'b', options: { maxNewTokens: 3 } }), 'server-error', /does not support insert/);
  const vllm = await startOpenAiServer();
  servers.push(vllm);
  await rejectsWithCode(engine.generate({ model: { source: 'gpt2-code', endpoint: { url: `${vllm.url}/v1` } }, prompt: 'a', suffix: 'b', options: { maxNewTokens: 3 } }), 'server-error', /suffix/i);
});

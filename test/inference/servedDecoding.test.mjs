// Served models (issue #18), what the server decodes beyond one plain continuation: fill-in-the-middle
// (a prompt written here from the model name's family for an OpenAI-compatible server; llama.cpp's
// /infill and Ollama's template on the server), several sequences (the OpenAI-compatible `n`, vLLM's
// beam search) and stopping where the text starts to repeat itself. The test servers
// (test/servers/servingEngines.mjs) compute every number with this project's engine on the bundled model.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { newEngine, rejectsWithCode } from '../helpers.mjs';
import { startLlamaCppServer, startOllamaServer, startOpenAiServer, sharedEngine } from '../servers/servingEngines.mjs';

const engine = newEngine();
const PREFIX = 'def add(a, b):\n    ';
const SUFFIX = '\n\nprint(add(1, 2))\n';
const servers = [];
after(() => Promise.all(servers.map((s) => s.close())));

async function started(start, opts = {}) {
  const server = await start(opts);
  servers.push(server);
  return server;
}

/** The engine's own run of the bundled model (no repetition penalty, as the servers run it). */
async function local(prompt, options) {
  return (await sharedEngine()).generate({ model: { source: 'gpt2-code' }, prompt, options: { repetitionPenalty: 1, ...options } });
}

// Each family's prompt as Continue's AutocompleteTemplate.ts writes it (core/autocomplete/templating),
// written out here independently of src/inference/fillInTheMiddle.ts; the server checks it has this form.
const FAMILIES = [
  { model: 'Qwen/Qwen2.5-Coder-7B', format: 'qwen/codegemma', markers: { prefix: '<|fim_prefix|>', suffix: '<|fim_suffix|>', middle: '<|fim_middle|>', order: 'psm' }, stops: ['<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>', '<|fim_pad|>', '<|repo_name|>', '<|file_sep|>', '<|im_start|>', '<|im_end|>', '<|endoftext|>'] },
  { model: 'google/codegemma-2b', format: 'qwen/codegemma', markers: { prefix: '<|fim_prefix|>', suffix: '<|fim_suffix|>', middle: '<|fim_middle|>', order: 'psm' }, stops: ['<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>', '<|file_separator|>', '<end_of_turn>'] },
  { model: 'bigcode/starcoder2-3b', format: 'starcoder', markers: { prefix: '<fim_prefix>', suffix: '<fim_suffix>', middle: '<fim_middle>', order: 'psm' }, stops: ['<fim_prefix>', '<fim_suffix>', '<fim_middle>', '<file_sep>', '<|endoftext|>'] },
  { model: 'deepseek-ai/deepseek-coder-1.3b-base', format: 'deepseek', markers: { prefix: '<｜fim▁begin｜>', suffix: '<｜fim▁hole｜>', middle: '<｜fim▁end｜>', order: 'psm' }, stops: ['<｜fim▁begin｜>', '<｜fim▁hole｜>', '<｜fim▁end｜>', '<｜end▁of▁sentence｜>'] },
  { model: 'codellama/CodeLlama-7b-hf', format: 'codellama', markers: { prefix: '<PRE> ', suffix: ' <SUF>', middle: ' <MID>', order: 'psm' }, stops: ['<PRE>', '<SUF>', '<MID>', '<EOT>'] },
  { model: 'mistralai/Codestral-22B-v0.1', format: 'codestral', markers: { prefix: '[PREFIX]', suffix: '[SUFFIX]', order: 'spm' }, stops: ['[PREFIX]', '[SUFFIX]'] },
];

for (const family of FAMILIES) {
  test(`openai FIM, ${family.model}: the prompt is written here in the ${family.format} format with its stop strings, no suffix field, and the middle is the server's`, async () => {
    const server = await started(startOpenAiServer, { model: family.model, fim: family.markers });
    const r = await engine.generate({ model: { source: family.model, endpoint: { url: `${server.url}/v1` } }, prompt: PREFIX, suffix: SUFFIX, options: { strategy: 'greedy', maxNewTokens: 8, topAlternatives: 3 } });
    const body = server.requests.at(-1).body;
    const m = family.markers;
    const expected = m.order === 'spm' ? `${m.suffix}${SUFFIX}${m.prefix}${PREFIX}` : `${m.prefix}${PREFIX}${m.suffix}${SUFFIX}${m.middle}`;
    assert.equal(body.prompt, expected);
    assert.equal('suffix' in body, false, 'the suffix is in the prompt, not in the API field');
    for (const stop of family.stops) assert.ok(body.stop.includes(stop), `stop strings include ${stop}`);
    assert.deepEqual(server.generations.at(-1).fim, { prefix: PREFIX, suffix: SUFFIX }, 'the server read the prefix and the suffix back from the prompt');
    // The test server writes the middle as the bundled model's continuation of the prefix.
    const ref = await local(PREFIX, { strategy: 'greedy', maxNewTokens: 8, stopStrings: body.stop });
    assert.equal(r.text, ref.text);
    assert.deepEqual(r.fim, { format: family.format, promptTokens: ref.inputIds.length, formattedBy: 'client' }, 'promptTokens is the server\'s usage.prompt_tokens');
  });
}

test('a blank suffix (the cursor at the end of the file) is not filled toward: the server gets the prefix alone and fimUnavailable says why', async () => {
  const server = await started(startOpenAiServer, { model: 'bigcode/starcoder2-3b', fim: { prefix: '<fim_prefix>', suffix: '<fim_suffix>', middle: '<fim_middle>', order: 'psm' } });
  const r = await engine.generate({ model: { source: 'bigcode/starcoder2-3b', endpoint: { url: `${server.url}/v1` } }, prompt: PREFIX, suffix: '\n  \n', options: { strategy: 'greedy', maxNewTokens: 6 } });
  const body = server.requests.at(-1).body;
  assert.equal(body.prompt, PREFIX);
  assert.equal('suffix' in body, false);
  assert.equal(r.fim, undefined);
  assert.match(r.fimUnavailable, /Nothing but blanks follows the cursor/);
  assert.equal(r.text, (await local(PREFIX, { strategy: 'greedy', maxNewTokens: 6 })).text);
});

test('openai FIM, a model name of no known family: the API\'s suffix field; refused, the prefix is continued alone and fimUnavailable says why and what to do', async () => {
  const server = await started(startOpenAiServer);
  const model = { source: 'gpt2-code', endpoint: { url: `${server.url}/v1` } };
  const r = await engine.generate({ model, prompt: PREFIX, suffix: SUFFIX, options: { strategy: 'greedy', maxNewTokens: 6 } });
  const [first, second] = server.requests.filter((q) => q.path === '/v1/completions').map((q) => q.body);
  assert.deepEqual([first.prompt, first.suffix], [PREFIX, SUFFIX], 'first the API\'s own suffix');
  assert.deepEqual([second.prompt, 'suffix' in second], [PREFIX, false], 'then the prefix alone');
  assert.equal(r.text, (await local(PREFIX, { strategy: 'greedy', maxNewTokens: 6 })).text);
  assert.equal(r.fim, undefined);
  assert.match(r.fimUnavailable, /400: suffix is not currently supported.*"gpt2-code" names no fill-in-the-middle family.*qwen\/codegemma, starcoder, deepseek, codellama, codestral.*--served-model-name.*continued alone/);
  // Remembered for this server and model: the next request does not offer the suffix again.
  const again = await engine.generate({ model, prompt: PREFIX, suffix: SUFFIX, options: { strategy: 'greedy', maxNewTokens: 6 } });
  assert.equal(server.requests.filter((q) => q.path === '/v1/completions').length, 3);
  assert.equal('suffix' in server.requests.at(-1).body, false);
  assert.equal(again.fimUnavailable, r.fimUnavailable);
});

test('openai FIM: the family comes from the served name as servers spell it (Hub ids, Ollama tags, quantized repacks); a chat model of the same maker is no FIM family', async () => {
  const names = {
    'qwen2.5-coder:1.5b': '<|fim_prefix|>',
    'Qwen/Qwen2.5-Coder-32B-Instruct-AWQ': '<|fim_prefix|>',
    'Qwen/CodeQwen1.5-7B': '<fim_prefix>',
    'TheBloke/deepseek-coder-6.7B-base-AWQ': '<｜fim▁begin｜>',
    'stabilityai/stable-code-3b': '<fim_prefix>',
    'codellama:7b-code': '<PRE> ',
    'codestral:22b': '[SUFFIX]',
    'Qwen/Qwen2.5-7B-Instruct': undefined,
    'deepseek-ai/DeepSeek-V3': undefined,
    'meta-llama/Llama-3.1-8B': undefined,
  };
  for (const [name, marker] of Object.entries(names)) {
    const server = await started(startOpenAiServer, { model: name });
    const r = await engine.generate({ model: { source: name, endpoint: { url: `${server.url}/v1` } }, prompt: PREFIX, suffix: SUFFIX, options: { strategy: 'greedy', maxNewTokens: 2 } });
    const first = server.requests.find((q) => q.path === '/v1/completions').body;
    if (marker) {
      assert.ok(first.prompt.startsWith(marker), `${name}: ${JSON.stringify(first.prompt.slice(0, 20))}`);
      assert.equal(r.fim.formattedBy, 'client', name);
    } else {
      assert.deepEqual([first.prompt, first.suffix], [PREFIX, SUFFIX], `${name}: the API's suffix`);
      assert.match(r.fimUnavailable, /names no fill-in-the-middle family/, name);
    }
  }
});

test('llama.cpp and Ollama FIM: the server formats the prompt (/infill, the model\'s template); fim names the route and the server\'s prompt length', async () => {
  const llama = await started(startLlamaCppServer);
  const r1 = await engine.generate({ model: { source: 'gpt2-code', endpoint: { url: llama.url, api: 'llama.cpp' } }, prompt: PREFIX, suffix: SUFFIX, options: { strategy: 'greedy', maxNewTokens: 6 } });
  const ref = await local(PREFIX, { strategy: 'greedy', maxNewTokens: 6 });
  assert.equal(llama.requests.at(-1).path, '/infill');
  assert.deepEqual([llama.requests.at(-1).body.input_prefix, llama.requests.at(-1).body.input_suffix], [PREFIX, SUFFIX]);
  assert.equal(r1.text, ref.text);
  assert.deepEqual(r1.fim, { format: 'llama.cpp /infill', promptTokens: ref.inputIds.length, formattedBy: 'server' });

  const ollama = await started(startOllamaServer, { insert: true });
  const r2 = await engine.generate({ model: { source: 'gpt2-code', endpoint: { url: ollama.url, api: 'ollama' } }, prompt: PREFIX, suffix: SUFFIX, options: { strategy: 'greedy', maxNewTokens: 6 } });
  assert.equal(ollama.requests.at(-1).body.suffix, SUFFIX);
  assert.equal(r2.text, ref.text);
  assert.deepEqual(r2.fim, { format: 'Ollama template', promptTokens: ref.inputIds.length, formattedBy: 'server' });
});

test('openai n: several sampled sequences in one request, each the engine\'s own seeded run; the first is streamed and is the result', async () => {
  const server = await started(startOpenAiServer);
  const streamed = [];
  const r = await engine.generate(
    { model: { source: 'gpt2-code', endpoint: { url: `${server.url}/v1` } }, prompt: PREFIX, stream: true, options: { strategy: 'sample', temperature: 0.9, seed: 7, numReturnSequences: 3, maxNewTokens: 6, topAlternatives: 2 } },
    { isCancelled: () => false, onToken: (t, delta) => streamed.push(delta) },
  );
  const body = server.requests.at(-1).body;
  assert.equal(body.n, 3);
  assert.equal(body.seed, 7);
  assert.equal(r.sequences.length, 3);
  for (let i = 0; i < 3; i++) {
    // The test server seeds the i-th sample with seed + i.
    const ref = await local(PREFIX, { strategy: 'sample', temperature: 0.9, seed: 7 + i, maxNewTokens: 6, topAlternatives: 2 });
    assert.equal(r.sequences[i].text, ref.text, `sequence ${i}`);
    const refLogprob = ref.tokens.reduce((s, t) => s + t.logprob, 0);
    assert.ok(Math.abs(r.sequences[i].logprob - refLogprob) < 1e-6, `sequence ${i}: logprob ${r.sequences[i].logprob} vs ${refLogprob}`);
  }
  assert.equal(r.text, r.sequences[0].text);
  assert.equal(streamed.join(''), r.text, 'only the first sequence streams');
  assert.notEqual(new Set(r.sequences.map((s) => s.text)).size, 1, 'the samples differ');
});

test('openai beam search: vLLM\'s use_beam_search with n beams; the best numReturnSequences come back ranked by vLLM\'s score', async () => {
  const server = await started(startOpenAiServer);
  const r = await engine.generate({ model: { source: 'gpt2-code', endpoint: { url: `${server.url}/v1` } }, prompt: PREFIX, options: { strategy: 'beam', numBeams: 3, numReturnSequences: 2, lengthPenalty: 1, maxNewTokens: 6, topAlternatives: 2 } });
  const body = server.requests.at(-1).body;
  assert.deepEqual([body.use_beam_search, body.n, body.length_penalty], [true, 3, 1]);
  assert.equal(r.sequences.length, 2);
  const beams = (await local(PREFIX, { strategy: 'beam', numBeams: 3, numReturnSequences: 3, maxNewTokens: 6 })).sequences;
  const promptTokens = (await local(PREFIX, { maxNewTokens: 1 })).inputIds.length;
  for (const s of r.sequences) {
    const same = beams.find((b) => b.text === s.text);
    assert.ok(same, `"${s.text}" is one of the engine's beams`);
    assert.ok(Math.abs(s.logprob - same.logprob) < 1e-6, `${s.logprob} vs ${same.logprob}`);
    assert.ok(Math.abs(s.score - s.logprob / (promptTokens + same.ids.length)) < 1e-9, 'vLLM ranks by logprob over prompt + generated tokens');
  }
  assert.ok(r.sequences[0].score >= r.sequences[1].score, 'best first');
  assert.equal(r.text, r.sequences[0].text);
  assert.equal(r.tokens.length, beams.find((b) => b.text === r.text).ids.length, 'the best sequence has its per-token trace');
});

test('several sequences and beam search where the API has none: a message that says so; greedy with n > 1 is refused', async () => {
  const llama = await started(startLlamaCppServer);
  const ollama = await started(startOllamaServer);
  for (const [endpoint, why] of [[{ url: llama.url, api: 'llama.cpp' }, /llama\.cpp's server returns one sequence per request and has no beam search/], [{ url: ollama.url, api: 'ollama' }, /Ollama's \/api\/generate returns one sequence per request and has no beam search/]]) {
    const model = { source: 'gpt2-code', endpoint };
    await rejectsWithCode(engine.generate({ model, prompt: PREFIX, options: { strategy: 'beam', numBeams: 2 } }), 'bad-request', new RegExp(`^Beam search: ${why.source}.*vLLM`));
    await rejectsWithCode(engine.generate({ model, prompt: PREFIX, options: { strategy: 'sample', numReturnSequences: 2 } }), 'bad-request', new RegExp(`^2 sequences: ${why.source}`));
  }
  assert.equal(llama.requests.length + ollama.requests.length, 0, 'refused before any request');
  const server = await started(startOpenAiServer);
  await rejectsWithCode(engine.generate({ model: { source: 'gpt2-code', endpoint: { url: `${server.url}/v1` } }, prompt: PREFIX, options: { strategy: 'greedy', numReturnSequences: 2 } }), 'bad-request', /Greedy decoding gives one sequence/);
});

for (const [api, start, base] of [
  ['openai', startOpenAiServer, (s) => `${s.url}/v1`],
  ['llama.cpp', startLlamaCppServer, (s) => s.url],
  ['ollama', startOllamaServer, (s) => s.url],
]) {
  test(`${api}: stopOnRepetition aborts the stream where the text starts to loop, with the text cut as the local engine cuts it`, async () => {
    // The bundled model loops on this prompt under greedy decoding (a doc comment of repeated @param lines).
    const server = await started(start, { delayMs: 5 });
    const options = { strategy: 'greedy', maxNewTokens: 200, stopOnRepetition: true, topAlternatives: 1 };
    const r = await engine.generate({ model: { source: 'gpt2-code', endpoint: { url: base(server), api } }, prompt: PREFIX, stream: true, options }, { isCancelled: () => false });
    const ref = await local(PREFIX, options);
    assert.equal(ref.finishReason, 'repetition');
    assert.equal(r.finishReason, 'repetition');
    assert.equal(r.text, ref.text);
    assert.equal(r.tokens.length, ref.tokens.length, 'the tokens up to the one that completed the repetition');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const gen = server.generations.at(-1);
    assert.equal(gen.cancelled, true, 'the client closed the connection');
    assert.ok(gen.sentTokens < 200, `the server stopped after ${gen.sentTokens} tokens`);
  });
}

test('CLI: --suffix on a served FIM model writes the prompt here; --strategy beam --num-return-sequences returns the server\'s beams', async () => {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { join } = await import('node:path');
  const { root } = await import('../helpers.mjs');
  const family = FAMILIES[2];
  const server = await started(startOpenAiServer, { model: family.model, fim: family.markers });
  const cli = (...args) => promisify(execFile)(process.execPath, [join(root, 'dist', 'cli.js'), 'generate', '--endpoint', `${server.url}/v1`, '--model', family.model, '--prompt', PREFIX, '--json', ...args]);
  const fim = JSON.parse((await cli('--suffix', SUFFIX, '--max-new-tokens', '4', '--strategy', 'greedy')).stdout);
  assert.equal(server.requests.at(-1).body.prompt, `<fim_prefix>${PREFIX}<fim_suffix>${SUFFIX}<fim_middle>`);
  assert.equal(fim.fim.formattedBy, 'client');
  assert.equal(fim.fim.format, 'starcoder');
  const beams = JSON.parse((await cli('--strategy', 'beam', '--num-beams', '3', '--num-return-sequences', '2', '--max-new-tokens', '4')).stdout);
  assert.equal(beams.sequences.length, 2);
  assert.equal(server.requests.at(-1).body.use_beam_search, true);
  assert.equal(beams.text, beams.sequences[0].text);
});

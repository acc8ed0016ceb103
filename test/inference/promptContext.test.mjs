// Prompt context (other files' snippets and the file's path) before the prompt: ids equal transformers.js's
// tokenization of the same text, written as comments for a model without repository-level tokens (after a
// fill-in-the-middle prefix marker) and with file separators for one that has them; the text around the cursor
// is fitted first and the context takes only what is left, within its own budget.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { basename, dirname, join } from 'node:path';
import { fixturesDir, modelPath, newEngine, rejectsWithCode } from '../helpers.mjs';
import { contextIds, contextTexts, validateRequest } from '../../dist/inference.js';

const { AutoTokenizer, env } = await import('@huggingface/transformers');
env.allowRemoteModels = false;

async function tokenizerOf(folder) {
  env.localModelPath = dirname(folder) + '/';
  return AutoTokenizer.from_pretrained(basename(folder));
}

const engine = newEngine();
const python = { open: '#' };
const helpers = { path: 'helpers.py', text: 'def sub(a, b):\n    return a - b\n' };
const shapes = { path: 'geometry/shapes.py', text: 'class Square:\n\n    side: int\n' };

test('a model without repository tokens (gpt2-code): the snippets and the path as comments before the prompt, ids as transformers.js tokenizes the whole text', async () => {
  const tokenizer = await tokenizerOf(modelPath('gpt2-code'));
  const prompt = 'def add(a, b):\n    return';
  const r = await engine.generate({
    model: { source: 'gpt2-code' },
    prompt,
    context: { path: 'math_utils.py', comment: python, snippets: [helpers, shapes], maxTokens: 400 },
    options: { strategy: 'greedy', maxNewTokens: 4 },
  });
  // The most relevant snippet (the first) sits nearest the prompt; a blank line of a snippet is a bare comment.
  const expected =
    '# Path: geometry/shapes.py\n# class Square:\n#\n#     side: int\n' + '# Path: helpers.py\n# def sub(a, b):\n#     return a - b\n' + '# Path: math_utils.py\n' + prompt;
  assert.deepEqual(r.inputIds, tokenizer.encode(expected));
  assert.deepEqual(r.context, { tokens: r.inputIds.length - tokenizer.encode(prompt).length, style: 'comments', snippets: 2, offered: 2 });
  const alone = await engine.generate({ model: { source: 'gpt2-code' }, prompt, options: { strategy: 'greedy', maxNewTokens: 4 } });
  assert.equal(alone.context, undefined);
  assert.equal(alone.inputIds.length + r.context.tokens, r.inputIds.length);
});

test('the budget: the header first, then snippets in order while they fit; a prompt that fills the context leaves no room at all', async () => {
  const tokenizer = await tokenizerOf(modelPath('gpt2-code'));
  const header = tokenizer.encode('# Path: math_utils.py\n').length;
  const first = tokenizer.encode(contextTexts({ path: 'x', comment: python, snippets: [helpers], maxTokens: 0 }, 'comments').snippets[0]).length;
  const base = { model: { source: 'gpt2-code' }, prompt: 'x = 1\n', options: { strategy: 'greedy', maxNewTokens: 2 } };
  const onlyFirst = await engine.generate({ ...base, context: { path: 'math_utils.py', comment: python, snippets: [helpers, shapes], maxTokens: header + first } });
  assert.deepEqual(onlyFirst.context, { tokens: header + first, style: 'comments', snippets: 1, offered: 2 });
  // A snippet too big for what is left gives its first lines (the path and at least three); a small one after it that
  // does not fit whole is skipped.
  const big = { path: 'big.py', text: Array.from({ length: 40 }, (_, i) => `y${i} = ${i}`).join('\n') };
  const room = header + first + 10;
  const partial = await engine.generate({ ...base, context: { path: 'math_utils.py', comment: python, snippets: [big, helpers], maxTokens: room } });
  assert.equal(partial.context.snippets, 1);
  assert.ok(partial.context.tokens <= room, `${partial.context.tokens} tokens within ${room}`);
  const bigText = contextTexts({ path: 'math_utils.py', comment: python, snippets: [big], maxTokens: 0 }, 'comments').snippets[0].split('\n');
  const kept = partial.context.tokens - header;
  const lines = [...Array(bigText.length).keys()].find((n) => tokenizer.encode(bigText.slice(0, n + 1).join('\n') + '\n').length > kept);
  assert.ok(lines >= 4, `the path line and at least 3 lines (${lines})`);
  assert.deepEqual(partial.inputIds, tokenizer.encode(bigText.slice(0, lines).join('\n') + '\n# Path: math_utils.py\nx = 1\n'), 'as many first lines as fit');
  assert.ok(tokenizer.encode(bigText.slice(0, lines + 1).join('\n') + '\n').length > kept, 'one more line would not fit');
  const none = await engine.generate({ ...base, context: { path: 'math_utils.py', comment: python, snippets: [helpers], maxTokens: header - 1 } });
  assert.deepEqual(none.context, { tokens: 0, style: 'comments', snippets: 0, offered: 1 });

  // gpt2-code reads 512 tokens: a prompt of ~600 is cut to its end as before, and the context gets nothing.
  const long = 'value = compute(value)\n'.repeat(100);
  const plain = await engine.generate({ model: { source: 'gpt2-code' }, prompt: long, truncatePrompt: true, options: { strategy: 'greedy', maxNewTokens: 8 } });
  const crowded = await engine.generate({ model: { source: 'gpt2-code' }, prompt: long, truncatePrompt: true, context: { path: 'a.py', comment: python, snippets: [helpers], maxTokens: 1000 }, options: { strategy: 'greedy', maxNewTokens: 8 } });
  assert.deepEqual(crowded.inputIds, plain.inputIds, 'the text before the cursor keeps every token it had');
  assert.equal(crowded.context.tokens, 0);
  assert.ok(crowded.inputTruncated, 'the prompt itself was cut to fit');
  // Room is kept for the new tokens: prompt + context + maxNewTokens fit the context.
  const medium = 'value = compute(value)\n'.repeat(60);
  const m = await engine.generate({ model: { source: 'gpt2-code' }, prompt: medium, truncatePrompt: true, context: { path: 'a.py', comment: python, snippets: [big, helpers, shapes], maxTokens: 1000 }, options: { strategy: 'greedy', maxNewTokens: 8 } });
  assert.ok(m.context.tokens > 0 && m.inputIds.length + 8 <= 512, `${m.inputIds.length} prompt tokens with ${m.context.tokens} of context leave room for 8 new ones`);
});

test('with fill-in-the-middle (StarCoder format on the GPT-BigCode replica) the comments go after the prefix marker', async () => {
  const bigcode = join(fixturesDir, 'hub-bigcode');
  const tokenizer = await tokenizerOf(bigcode);
  const plain = (t) => tokenizer.encode(t, { add_special_tokens: false });
  const r = await engine.generate({
    model: { source: bigcode, dtype: 'fp32' },
    prompt: 'def add(a, b):\n    ',
    suffix: '\n    return c',
    context: { path: 'math_utils.py', comment: python, snippets: [helpers], maxTokens: 200 },
    options: { strategy: 'greedy', maxNewTokens: 3, repetitionPenalty: 1 },
  });
  const contextText = contextTexts({ path: 'math_utils.py', comment: python, snippets: [helpers], maxTokens: 0 }, 'comments');
  assert.deepEqual(r.inputIds, [1, ...plain(contextText.snippets[0]), ...plain(contextText.header), ...plain('def add(a, b):\n    '), 3, ...plain('\n    return c'), 2]);
  assert.equal(r.fim.format, 'starcoder');
});

test('a model with file separators gets one per file; block comments for languages without line comments', async () => {
  const tokenizer = await tokenizerOf(modelPath('gpt2-code'));
  const plain = (t) => tokenizer.encode(t, { add_special_tokens: false });
  const sep = 4242;
  const vocab = new Map([['<|file_sep|>', sep]]);
  const context = { path: 'src/app.ts', comment: { open: '//' }, snippets: [{ path: 'src/util.ts', text: 'export const one = 1;' }], maxTokens: 100 };
  const r = contextIds(tokenizer, vocab, context, 1000);
  assert.equal(r.style, 'file-separator');
  assert.deepEqual(r.ids, [sep, ...plain('src/util.ts\nexport const one = 1;\n'), sep, ...plain('src/app.ts\n')]);
  assert.deepEqual(contextIds(tokenizer, vocab, context, 3).ids, [], 'not even the header fits in 3 tokens');
  const html = contextTexts({ path: 'index.html', comment: { open: '<!--', close: '-->' }, snippets: [{ path: 'a.html', text: '<p>\n\n</p>' }], maxTokens: 10 }, 'comments');
  assert.equal(html.header, '<!-- Path: index.html -->\n');
  assert.equal(html.snippets[0], '<!-- Path: a.html -->\n<!-- <p> -->\n<!---->\n<!-- </p> -->\n');
});

test('bad context is refused with the field named; a Seq2Seq model refuses a context', async () => {
  const generate = (context) => () => validateRequest({ type: 'generate', id: 1, params: { model: { source: 'gpt2-code' }, prompt: 'x', context } });
  const refused = (context, pattern) => assert.throws(generate(context), (e) => e.code === 'bad-request' && pattern.test(e.message));
  refused({ path: 'a.py', comment: { open: ' ' }, snippets: [], maxTokens: 10 }, /context\.comment\.open must not be empty/);
  refused({ path: 'a.py', comment: python, snippets: 'x', maxTokens: 10 }, /context\.snippets must be an array/);
  refused({ path: 'a.py', comment: python, snippets: [{ path: 'b.py' }], maxTokens: 10 }, /context\.snippets\[0\]\.text must be a string/);
  refused({ path: 'a.py', comment: python, snippets: [], maxTokens: 'all' }, /context\.maxTokens must be a finite number/);
  assert.equal(generate({ path: 'a.py', comment: python, snippets: [], maxTokens: 1e9 })().params.context.maxTokens, 100_000, 'clamped');
  await rejectsWithCode(engine.generate({ model: { source: 'bart-translate-summarize' }, prompt: 'a', context: { path: 'a.py', comment: python, snippets: [], maxTokens: 10 } }), 'bad-request', /Seq2Seq/);
});

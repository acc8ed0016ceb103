// Prompt-lookup drafting: the drafts it proposes, and greedy decoding that checks them in one pass
// giving exactly the output of one token per pass, in fewer passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engineModule, mergedLayout, modelPath, newEngine, splitLayout } from '../helpers.mjs';

const { findDraft } = await import(engineModule);
const engine = newEngine();

test('findDraft copies what followed the last n-gram, longest n-gram first, looping past the end', () => {
  // [1 2 3] occurred at 0; what followed it (9 1 2 3) repeats as the loop it is.
  assert.deepEqual(findDraft([1, 2, 3, 9, 1, 2, 3]), [9, 1, 2, 3, 9, 1, 2, 3]);
  assert.deepEqual(findDraft([1, 2, 3, 9, 1, 2, 3], [], { maxNgram: 3, maxTokens: 3 }), [9, 1, 2]);
  // The most recent occurrence wins: [5] was last followed by 7, not 6.
  assert.deepEqual(findDraft([5, 6, 5, 7, 4, 5], [], { maxNgram: 1, maxTokens: 2 }), [7, 4]);
  // A 3-gram match beats a more recent 1-gram match.
  assert.deepEqual(findDraft([8, 1, 2, 3, 4, 3, 0, 1, 2, 3], [], { maxNgram: 3, maxTokens: 2 }), [4, 3]);
  // A token repeated: the draft is more of it.
  assert.deepEqual(findDraft([4, 4], [], { maxNgram: 3, maxTokens: 4 }), [4, 4, 4, 4]);
});

test('findDraft falls back to the encoder input and proposes nothing without a match', () => {
  assert.deepEqual(findDraft([0, 5, 6], [4, 5, 6, 7, 8]), [7, 8]);
  assert.deepEqual(findDraft([1, 2, 3], [4, 5]), []);
  assert.deepEqual(findDraft([], [1, 2]), []);
  assert.deepEqual(findDraft([1, 1, 1], [], { maxNgram: 3, maxTokens: 0 }), []);
});

function assertSameGeneration(withLookup, without, label) {
  assert.deepEqual(withLookup.tokens.map((t) => t.id), without.tokens.map((t) => t.id), `${label}: same ids`);
  assert.equal(withLookup.text, without.text, `${label}: same text`);
  assert.equal(withLookup.finishReason, without.finishReason, `${label}: same finish reason`);
  withLookup.tokens.forEach((t, i) => {
    const u = without.tokens[i];
    assert.ok(Math.abs(t.logprob - u.logprob) < 1e-4, `${label}: token ${i} logprob ${t.logprob} vs ${u.logprob}`);
    assert.ok(Math.abs(t.entropy - u.entropy) < 1e-4, `${label}: token ${i} entropy`);
    assert.equal(t.rank, u.rank, `${label}: token ${i} rank`);
    assert.deepEqual(t.top.slice(0, 3).map((a) => a.id), u.top.slice(0, 3).map((a) => a.id), `${label}: token ${i} alternatives`);
  });
}

const causalCases = [
  { label: 'gpt2-code, code prompt', source: 'gpt2-code', prompt: 'def __init__(self', options: { maxNewTokens: 48 } },
  { label: 'gpt2-code, prose prompt', source: 'gpt2-code', prompt: 'The quick brown fox jumps over the lazy dog. The quick', options: { maxNewTokens: 40 } },
  {
    label: 'gpt2-code, repetition penalty and no-repeat 3-gram',
    source: 'gpt2-code',
    prompt: 'for i in range(10):\n    print(i)\nfor j in range(10):\n',
    options: { maxNewTokens: 40, repetitionPenalty: 1.2, noRepeatNgramSize: 3 },
  },
  { label: 'gpt2-code, stop string', source: 'gpt2-code', prompt: 'import os\nimport sys\nimport', options: { maxNewTokens: 60, stopStrings: ['\n\n'] } },
  { label: 'tiny-llama-gqa (RoPE, grouped-query attention)', source: modelPath('tiny-llama-gqa'), prompt: 'def __init__(self', options: { maxNewTokens: 32 } },
  {
    label: 'tiny-llama-gqa, merged layout',
    source: mergedLayout(modelPath('tiny-llama-gqa')),
    prompt: 'def f(x): return x',
    options: { maxNewTokens: 24 },
  },
];

for (const c of causalCases) {
  test(`greedy with prompt lookup equals greedy one token per pass: ${c.label}`, async () => {
    const model = { source: c.source };
    const without = await engine.generate({ model, prompt: c.prompt, options: { ...c.options, promptLookupTokens: 0 } });
    const withLookup = await engine.generate({ model, prompt: c.prompt, options: { ...c.options, promptLookupTokens: 8 } });
    assertSameGeneration(withLookup, without, c.label);
    assert.equal(without.timings.decoder_passes, without.tokens.length, 'one pass per token without drafts');
    assert.ok(withLookup.timings.decoder_passes <= without.timings.decoder_passes, 'never more passes');
  });
}

test('a repetitive greedy continuation is decoded in far fewer passes than tokens', async () => {
  const r = await engine.generate({ model: { source: 'gpt2-code' }, prompt: 'def __init__(self', options: { maxNewTokens: 64 } });
  assert.equal(r.tokens.length, 64);
  // The bundled GPT loops on ", self.name": the loop is drafted and confirmed 8 tokens at a time.
  assert.ok(r.timings.decoder_passes < 32, `${r.timings.decoder_passes} passes for 64 tokens`);
});

test('Seq2Seq greedy with prompt lookup (drafts from the source too) equals one token per pass, merged and split layouts', async () => {
  const bart = modelPath('bart-translate-summarize');
  const tiny = modelPath('tiny-bart-random');
  const runs = [
    { source: bart, prompt: 'Open the file and save your changes before closing the window.', task: { kind: 'translate', to: 'de' } },
    { source: bart, prompt: 'GNU Wget is a free utility for non-interactive download of files from the Web.', task: { kind: 'summarize' } },
    { source: tiny, prompt: 'translate English to German: Save changes?' },
    { source: splitLayout(tiny), prompt: 'translate English to German: Save changes?' },
  ];
  for (const r of runs) {
    const base = { model: { source: r.source }, prompt: r.prompt, task: r.task };
    const without = await engine.generate({ ...base, options: { maxNewTokens: 32, promptLookupTokens: 0 } });
    const withLookup = await engine.generate({ ...base, options: { maxNewTokens: 32, promptLookupTokens: 8 } });
    assertSameGeneration(withLookup, without, `${r.source}: ${r.prompt}`);
  }
});

test('drafting is off where it could change the result or cannot rewind: sampling, recorded attention, the RNN', async () => {
  const sample = await engine.generate({ model: { source: 'gpt2-code' }, prompt: 'def __init__(self', options: { maxNewTokens: 24, strategy: 'sample', seed: 3 } });
  assert.equal(sample.timings.decoder_passes, 24);
  const withAttention = await engine.generate({ model: { source: 'gpt2-code', attentions: true }, prompt: 'def __init__(self', options: { maxNewTokens: 24, attentions: true } });
  // One pass per token, and one more that feeds the last token for its attention row.
  assert.equal(withAttention.timings.decoder_passes, 25);
  assert.ok(withAttention.attentions.length > 0);
  const rnn = await engine.generate({ model: { source: modelPath('rnn-attention-seq2seq') }, prompt: 'Open file', task: { kind: 'translate', to: 'de' }, options: { maxNewTokens: 24 } });
  assert.equal(rnn.timings.decoder_passes, rnn.tokens.length);
});

test('promptLookupTokens out of range is refused with a message naming it', async () => {
  await assert.rejects(
    engine.generate({ model: { source: 'gpt2-code' }, prompt: 'x', options: { promptLookupTokens: -1 } }),
    (e) => e.code === 'bad-request' && /promptLookupTokens/.test(e.message),
  );
});

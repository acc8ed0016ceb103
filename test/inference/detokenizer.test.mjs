// The incremental detokenizer: the streamed text of every token equals tokenizer.decode of all ids,
// for every bundled model's tokenizer and the Hub replicas' (byte-level BPE, Metaspace, clean-up on
// and off), over long sequences of odd tokens: multi-byte UTF-8 split across byte tokens, runs of
// spaces, punctuation that clean-up rewrites, special tokens, random ids.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { IncrementalDetokenizer, loadTokenizer } from '../../dist/inference.js';
import { SeededRandom } from '../../dist/inference.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PreTrainedTokenizer } from '@huggingface/transformers';
import { modelPath, newEngine } from '../helpers.mjs';

const TOKENIZERS = [
  'gpt2-code',
  'bart-translate-summarize',
  'rnn-attention-seq2seq',
  'tiny-llama-gqa',
  'hub-gpt2-merged',
  'hub-bigcode',
  'hub-qwen2',
  'hub-bart-cnn',
  'hub-marian-merged',
  'hub-t5',
];

const ODD_TEXT = [
  'def f(x):\n    return x  # 日本語のコメント 🙂👍🏽 naïve café\n\n\n',
  "He said , \" I don't know . It 's Bob 's , isn't it ? \" Yes ! We 've , they 're , I 'm ' quoted ' .",
  '   leading spaces\t\ttabs   and   runs    of     spaces .  ,  !  ?',
  'Ünïcödé — “quotes” … € ₹ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 👩‍👩‍👧‍👦 🇩🇪',
].join('\n');

/**
 * Pushes every id as the decoding loop does; checks at each step that the text so far is the full
 * decoding and that its settled start never changes. Returns what a stream of the settled text gives
 * (the loop streams the settled text, then the rest at the end).
 */
function stream(tokenizer, ids, skipSpecial, where) {
  const detok = new IncrementalDetokenizer(tokenizer, skipSpecial);
  let streamed = '';
  for (let i = 0; i < ids.length; i++) {
    const piece = detok.push(ids[i]);
    const full = tokenizer.decode(ids.slice(0, i + 1), { skip_special_tokens: skipSpecial });
    const current = detok.current;
    assert.ok(current.endsWith(piece), `${where}: the text ends with what id ${i} added`);
    // Less an incomplete character at the end, the text is the full decoding of the ids so far.
    if (!full.endsWith('\uFFFD')) assert.equal(current, full, `${where}: text after id ${i} (${ids[i]})`);
    else assert.ok(full.startsWith(current.slice(0, detok.settledLength)), `${where}: held text after id ${i}`);
    assert.ok(current.startsWith(streamed), `${where}: settled text changed after id ${i}`);
    streamed += current.slice(streamed.length, detok.settledLength);
  }
  detok.flush();
  return { text: streamed + detok.current.slice(streamed.length), current: detok.current };
}

for (const name of TOKENIZERS) {
  test(`${name}: the streamed text is the full decoding (odd text, specials, random ids)`, () => {
    const tokenizer = loadTokenizer(modelPath(name));
    const vocab = Object.keys(tokenizer.get_vocab()).length;
    const encoded = tokenizer.encode(ODD_TEXT, { add_special_tokens: false });
    const specials = tokenizer.all_special_ids;
    const rng = new SeededRandom(7);
    const pick = (n) => Math.floor(rng.next() * n);
    // Random ids, with specials sprinkled in and runs of the encoded text (where real words form).
    const random = [];
    while (random.length < 400) {
      const r = rng.next();
      if (r < 0.1 && specials.length) random.push(specials[pick(specials.length)]);
      else if (r < 0.3) random.push(...encoded.slice(pick(encoded.length), pick(encoded.length) + 8));
      else random.push(pick(vocab));
    }
    const withSpecials = [...encoded.slice(0, 20), ...specials, ...encoded.slice(20), ...specials.slice(0, 1)];
    for (const [label, ids] of [['odd text', encoded], ['specials inside', withSpecials], ['random ids', random]]) {
      for (const skipSpecial of [true, false]) {
        const where = `${name}, ${label}, skip_special_tokens ${skipSpecial}`;
        const { text, current } = stream(tokenizer, ids, skipSpecial, where);
        const full = tokenizer.decode(ids, { skip_special_tokens: skipSpecial });
        assert.equal(text, full, `${where}: the concatenated stream`);
        assert.equal(current, full, `${where}: the final text`);
      }
    }
    assert.ok(tokenizer.decode(encoded, { skip_special_tokens: true }).length > 100, 'the odd text decodes to something');
  });
}

test('a tokenizer the engine did not load is decoded from its first id each time, as exactly', () => {
  for (const name of ['gpt2-code', 'hub-gpt2-merged', 'hub-t5']) {
    const read = (file) => JSON.parse(readFileSync(join(modelPath(name), file), 'utf8'));
    const tokenizer = new PreTrainedTokenizer(read('tokenizer.json'), read('tokenizer_config.json'));
    const ids = tokenizer.encode(ODD_TEXT, { add_special_tokens: false }).slice(0, 120);
    const { text } = stream(tokenizer, ids, true, `${name} (not windowed)`);
    assert.equal(text, tokenizer.decode(ids, { skip_special_tokens: true }), name);
  }
});

const engine = newEngine();
after(() => engine.unload());

for (const [name, prompt, options] of [
  ['gpt2-code', 'def __init__(self', { maxNewTokens: 300, strategy: 'sample', seed: 3, temperature: 1.3 }],
  ['gpt2-code', 'import os\n', { maxNewTokens: 300 }],
  ['hub-qwen2', 'Hello, 世界', { maxNewTokens: 200, strategy: 'sample', seed: 5, temperature: 2 }],
  ['hub-marian-merged', 'Save changes before closing the window?', { maxNewTokens: 120, strategy: 'sample', seed: 9, temperature: 2 }],
]) {
  test(`${name}: a long streamed generation's deltas are the decoding of its ids (${options.strategy ?? 'greedy'})`, async () => {
    const deltas = [];
    const r = await engine.generate({ model: { source: modelPath(name) }, prompt, options, stream: true }, { isCancelled: () => false, onToken: (_t, delta) => deltas.push(delta) });
    const model = await engine.load({ source: modelPath(name) });
    const ids = r.tokens.map((t) => t.id);
    assert.ok(ids.length >= 20, `a long generation (${ids.length} tokens)`);
    assert.equal(deltas.join(''), r.text, 'the deltas add up to the text');
    assert.equal(r.text, model.tokenizer.decode(ids, { skip_special_tokens: true }), 'the text is the full decoding of the ids');
  });
}

test('the work per token does not grow with the text: ids decoded per token stay bounded', () => {
  for (const name of ['gpt2-code', 'hub-marian-merged', 'hub-gpt2-merged']) {
    const tokenizer = loadTokenizer(modelPath(name));
    const ids = tokenizer.encode(ODD_TEXT.repeat(6), { add_special_tokens: false });
    let decoded = 0;
    const decode = tokenizer.decode.bind(tokenizer);
    tokenizer.decode = (some, options) => {
      decoded += some.length;
      return decode(some, options);
    };
    const detok = new IncrementalDetokenizer(tokenizer);
    for (const id of ids) detok.push(id);
    detok.flush();
    assert.equal(detok.current, decode(ids, { skip_special_tokens: true }), name);
    // A whole decoding per token would decode ids.length² / 2 ids; a window, a few per token.
    assert.ok(ids.length > 300, `${name}: a long text (${ids.length} ids)`);
    assert.ok(decoded < ids.length * 12, `${name}: ${decoded} ids decoded for ${ids.length} tokens`);
  }
});

// The decoding loop's own costs, apart from the model: the text of each token. The incremental
// detokenizer decodes a window of a few ids per token; decoding the whole sequence per token (what it
// replaced, and what transformers.js's TextStreamer does between line ends) grows with the text.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Microseconds per token to turn `count` ids of real code into streamed text, both ways. */
export async function measureDetokenizer({ root, lengths = [64, 256, 1024], rounds = 5 }) {
  const { IncrementalDetokenizer, loadTokenizer } = await import(join(root, 'dist', 'inference.js'));
  const rows = [];
  for (const name of ['gpt2-code', join('..', 'test', 'fixtures', 'hub-qwen2')]) {
    const tokenizer = loadTokenizer(join(root, 'models', name));
    const text = readFileSync(join(root, 'src', 'inference', 'decoding', 'decode.ts'), 'utf8').repeat(2);
    const all = tokenizer.encode(text, { add_special_tokens: false });
    for (const count of lengths) {
      const ids = all.slice(0, count);
      const whole = [];
      const windowed = [];
      const n = Math.max(rounds, Math.ceil(8192 / count)); // short texts get more rounds
      for (let r = -1; r < n; r++) { // round -1 warms up
        let t = performance.now();
        for (let i = 1; i <= ids.length; i++) tokenizer.decode(ids.slice(0, i), { skip_special_tokens: true });
        if (r >= 0) whole.push(((performance.now() - t) * 1000) / ids.length);
        t = performance.now();
        const detok = new IncrementalDetokenizer(tokenizer);
        for (const id of ids) detok.push(id);
        detok.flush();
        if (r >= 0) windowed.push(((performance.now() - t) * 1000) / ids.length);
      }
      rows.push({ tokenizer: name.split('/').pop(), count: ids.length, wholeUs: median(whole), windowedUs: median(windowed) });
    }
  }
  return rows;
}

export function detokenizerTable(rows) {
  const lines = ['| tokenizer | tokens | whole decode per token µs/token | incremental µs/token | ratio |', '|---|---|---|---|---|'];
  for (const r of rows) lines.push(`| ${r.tokenizer} | ${r.count} | ${r.wholeUs.toFixed(1)} | ${r.windowedUs.toFixed(1)} | ${(r.wholeUs / r.windowedUs).toFixed(1)}× |`);
  return lines;
}

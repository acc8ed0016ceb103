// Cuts single-line completion cases out of source files gpt2-code never trained on, for eval_inline.mjs.
//
//   node models/recipes/make_inline_cases.mjs [OUT_JSON]   (default models/recipes/data/inline_cases.json)
//
// Which files: the held-out split of train_gpt.py `corpus`. That step reads the same sources (the CPython 3.11
// standard library, the .js/.ts files in node_modules) with the same filters (200 B to 300 kB, not minified, no
// <|endoftext|>) and holds out every file whose CRC-32 of its UTF-8 content is below 3 mod 100: such a file's
// content is never in the training split, whatever else node_modules held when the model was trained. The content
// is hashed as Python reads it, line ends made "\n" (universal newlines): hashing the raw bytes of a CRLF file
// held out files the recipe trains on. A held-out file can still share lines with a trained one (another version
// of the same package, a README that quotes the code), so a case is dropped when its line, with the lines around
// it, occurs in any source or .md file of the corpus that is not held out.
//
// Each case: the text before the cursor (up to 1400 characters, about 440 tokens: gpt2-code reads 512 tokens), a
// cursor at a random point of a code line that is not a comment (after its indentation, before its last two
// characters), the rest of that line as the expected completion, and the text after the line (up to 300
// characters) as the suffix. At most 12 cases a file, 250 a language; files and lines are drawn with a fixed seed.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
// The tests' seeded generator (mulberry32): the cases are the same on every run.
import { random as rng } from '../../test/fuzz.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const outFile = process.argv[2] ?? path.join(root, 'models', 'recipes', 'data', 'inline_cases.json');
const SEED = 1234;
const PER_FILE = 12;
const PER_LANGUAGE = 250;
const PREFIX_CHARS = 1400;
const SUFFIX_CHARS = 300;
const EOT = '<|endoftext|>';


function walk(dir, keep, out = []) {
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== '.bin' && e.name !== '.cache' && e.name !== 'site-packages' && e.name !== 'dist-packages') walk(p, keep, out);
    } else if (e.isFile() && keep(p)) out.push(p);
  }
  return out;
}

function isMinified(text) {
  const lines = text.split('\n');
  return Math.max(...lines.map((l) => l.length)) > 1000 || text.length / Math.max(1, lines.length) > 150;
}

/** The file's text when train_gpt.py `corpus` would have read it, with whether it is held out. */
function corpusFile(p) {
  let size;
  try {
    size = fs.statSync(p).size;
  } catch {
    return undefined;
  }
  if (size > 300_000 || size < 200) return undefined;
  const buf = fs.readFileSync(p);
  const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(buf, { stream: false }).replace(/\r\n?/g, '\n');
  if (isMinified(text) || text.includes(EOT)) return undefined;
  return { path: p, text, heldOut: zlib.crc32(Buffer.from(text, 'utf8')) % 100 < 3 };
}

function readAll(paths) {
  const out = [];
  for (const p of paths) {
    try {
      const f = corpusFile(p);
      if (f) out.push(f);
    } catch {
      // not UTF-8: the recipe skips it too
    }
  }
  return out;
}

const python = readAll(walk('/usr/lib/python3.11', (p) => p.endsWith('.py')));
const nm = path.join(root, 'node_modules');
const scripts = readAll(walk(nm, (p) => /\.(m|c)?(js|ts)$/.test(p) && !p.endsWith('.min.js') && !p.includes('/typescript/lib/lib.')));
// The corpus's Markdown (train_gpt.py reads every .md in node_modules, minified or not): cases are not cut from it,
// but a README can quote a held-out file's code.
const markdown = readAll(walk(nm, (p) => p.toLowerCase().endsWith('.md')));
const COMMENT = /^\s*(#|\/\/|\/\*|\*|"""|''')/;

/** Up to `n` proposed cases from one held-out file, at random code lines. */
function proposals(file, language, random, n) {
  const lines = file.text.split('\n');
  const candidates = [];
  for (let i = 1; i < lines.length - 1; i++) {
    const line = lines[i];
    if (line.replace(/\s/g, '').length < 6 || COMMENT.test(line) || line.length > 200) continue;
    candidates.push(i);
  }
  const out = [];
  while (candidates.length && out.length < n) {
    const i = candidates.splice(Math.floor(random() * candidates.length), 1)[0];
    const line = lines[i].replace(/\s+$/, '');
    const indent = line.length - line.trimStart().length;
    const cursor = indent + Math.floor(random() * (line.length - 2 - indent));
    out.push({
      file: file.path.startsWith(nm) ? path.relative(root, file.path) : file.path,
      line: i + 1,
      language,
      prefix: (lines.slice(0, i).join('\n') + '\n' + line.slice(0, cursor)).slice(-PREFIX_CHARS),
      expected: line.slice(cursor),
      suffix: ('\n' + lines.slice(i + 1).join('\n')).slice(0, SUFFIX_CHARS),
      window: [lines[i - 1], lines[i], lines[i + 1]].map((l) => l.trim()),
    });
  }
  return out;
}

/**
 * Marks the proposals whose line, with the line before and after it (whitespace trimmed), occurs in a file that
 * may have been trained on. One pass over those files, looking up each line among the proposals' lines.
 */
function markSeen(all, files) {
  const byLine = new Map();
  for (const c of all) byLine.set(c.window[1], [...(byLine.get(c.window[1]) ?? []), c]);
  for (const f of files) {
    if (f.heldOut) continue;
    const lines = f.text.split('\n').map((l) => l.trim());
    for (let i = 1; i < lines.length - 1; i++) {
      const hits = byLine.get(lines[i]);
      if (!hits) continue;
      for (const c of hits) if (c.window[0] === lines[i - 1] && c.window[2] === lines[i + 1]) c.seen = true;
    }
  }
}

function pick(files, language, random) {
  const held = files.filter((f) => f.heldOut).map((f) => [random(), f]).sort((a, b) => a[0] - b[0]).map(([, f]) => f);
  const proposed = held.map((f) => proposals(f, language, random, PER_FILE * 3));
  markSeen(proposed.flat(), [...python, ...scripts, ...markdown]);
  const cases = [];
  let seen = 0;
  for (const list of proposed) {
    seen += list.filter((c) => c.seen).length;
    for (const c of list.filter((x) => !x.seen).slice(0, PER_FILE)) {
      if (cases.length >= PER_LANGUAGE) break;
      const { window: _window, seen: _seen, ...kept } = c;
      cases.push(kept);
    }
  }
  return { heldOutFiles: held.length, dropped: seen, cases };
}

const random = rng(SEED);
const py = pick(python, 'python', random);
const js = pick(scripts, 'javascript/typescript', random);
const cases = [...py.cases, ...js.cases];
const out = {
  description: "Single-line middles from files held out of gpt2-code's training (models/recipes/make_inline_cases.mjs)",
  seed: SEED,
  sources: {
    python: { files: python.length, heldOut: py.heldOutFiles, proposalsSeenInTrainableFiles: py.dropped },
    scripts: { files: scripts.length, heldOut: js.heldOutFiles, proposalsSeenInTrainableFiles: js.dropped },
  },
  files: [...new Set(cases.map((c) => c.file))],
  cases,
};
fs.mkdirSync(path.dirname(outFile), { recursive: true });
fs.writeFileSync(outFile, JSON.stringify(out) + '\n');
console.error(`${cases.length} cases (${py.cases.length} Python, ${js.cases.length} JS/TS) from ${out.files.length} files; ` +
  `held out: ${py.heldOutFiles}/${python.length} Python, ${js.heldOutFiles}/${scripts.length} JS/TS files; ` +
  `proposals dropped as seen elsewhere: ${py.dropped} Python, ${js.dropped} JS/TS -> ${path.relative(root, outFile)}`);

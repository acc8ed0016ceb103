// Measures inline completions of gpt2-code on held-out code, without and with the confidence cut
// (src/completion/confidenceCut.ts) at a sweep of thresholds, and picks lmLens.inline.minConfidence's default.
//
//   npm run build && node models/recipes/eval_inline.mjs [--model SOURCE] [CASES_JSON] [OUT_JSON]
//
// SOURCE: the model (default gpt2-code; a folder path measures another, e.g. an older gpt2-code kept elsewhere).
// CASES_JSON (default models/recipes/data/inline_cases.json, made by make_inline_cases.mjs): single-line middles
// from files gpt2-code never trained on. Each case is generated as the extension does it: greedy, the line's rest
// after the cursor, stop at the newline, shaped by completionText.ts, then cut by confidenceCut.ts. Each case runs
// twice, without and with the text after the line as the suffix (filled in the middle when the model has FIM tokens;
// a model without them continues the prefix and says why in `fimUnavailable`; the script reports what it said).
//
// First a summary: each run without the cut, with the extension's defaults (package.json, confidenceCut.ts) and with
// the chosen pair: exact matches and edit similarity over all cases (a suggestion not shown counts as empty), how
// many suggestions the cut suppressed, the precision of those shown (exact, right so far) and the correct ones hidden.
//
// The defaults are chosen by one rule: of every pair of threshold and mean log-probability floor in the sweep, the
// one whose shown suggestions are most often right so far (a non-empty prefix of the line's true rest), among those
// that hide at most a third of the correct suggestions (those right so far without the cut); on a tie the first in
// the sweep (no floor before a floor, the lower threshold first). The extension sends the text after the cursor, so
// the run with the suffix is the one that chooses.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const { Engine } = require(path.join(root, 'dist', 'inference.js'));

/** The extension's own shaping and cut, bundled from its sources, so the measurement runs the shipped code. */
async function load(rel) {
  const outfile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'eval-inline-')), 'm.mjs');
  await esbuild.build({ entryPoints: [path.join(root, rel)], outfile, bundle: true, format: 'esm', platform: 'node', target: 'node20', logLevel: 'silent' });
  return import(pathToFileURL(outfile).href);
}
const { confidenceCut, DEFAULT_MIN_MEAN_LOGPROB } = await load('src/completion/confidenceCut.ts');
const { trimCompletion } = await load('src/completion/completionText.ts');
const DEFAULT_MIN_CONFIDENCE = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).contributes.configuration.properties['lmLens.inline.minConfidence'].default;

const args = process.argv.slice(2);
const modelAt = args.indexOf('--model');
const source = modelAt >= 0 ? args.splice(modelAt, 2)[1] : 'gpt2-code';
if (!source) throw new Error('--model needs a model: a bundled name or a folder');
const casesFile = args[0] ?? path.join(root, 'models', 'recipes', 'data', 'inline_cases.json');
const outFile = args[1];
const { cases } = JSON.parse(fs.readFileSync(casesFile, 'utf8'));
const THRESHOLDS = [0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6];
const FLOORS = [undefined, -2, -1.5, -1.25, -1, -0.7, -0.5];
const OPTIONS = { strategy: 'greedy', maxNewTokens: 24, topAlternatives: 0, stopStrings: ['\n'] };

function levenshtein(a, b) {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}
const similarity = (a, b) => (a.length || b.length ? 1 - levenshtein(a, b) / Math.max(a.length, b.length) : 1);

const engine = new Engine(path.join(root, 'models'), { offline: true });
const model = { source, device: 'cpu' };
const runs = {};
const fimNotes = new Set();
const t0 = Date.now();
for (const mode of ['prefix only', 'prefix + suffix']) {
  const rows = [];
  for (const c of cases) {
    const result = await engine.generate({
      model,
      prompt: c.prefix,
      ...(mode === 'prefix + suffix' ? { suffix: c.suffix } : {}),
      truncatePrompt: true,
      options: OPTIONS,
    });
    if (result.fimUnavailable) fimNotes.add(result.fimUnavailable);
    if (result.fim) fimNotes.add(`filled the middle in ${result.fim.format}`);
    const text = trimCompletion(result.text, { multiline: false, lineSuffix: '', stopStrings: OPTIONS.stopStrings });
    rows.push({ language: c.language, expected: c.expected.replace(/\s+$/, ''), text, tokens: result.tokens.map((t) => ({ text: t.text, prob: t.prob, logprob: t.logprob })) });
  }
  runs[mode] = rows;
  console.error(`${mode}: ${rows.length} cases in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}
await engine.unload();

/** Characters at the start of `a` that equal those of `b`: what accepting `a` word by word writes correctly. */
function commonPrefix(a, b) {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/**
 * The metrics of one setting of the cut over one run's rows. A suggestion is right so far when it is a non-empty
 * prefix of the line's true rest (exact included); "correct" suggestions are the uncut ones that are right so far.
 */
function score(rows, minConfidence, minMeanLogprob) {
  let shown = 0, exact = 0, right = 0, sim = 0, rightChars = 0, shownChars = 0, correctUncut = 0, correctHidden = 0, suggested = 0;
  for (const r of rows) {
    const correct = r.text !== '' && r.expected.startsWith(r.text);
    if (correct) correctUncut++;
    const blank = r.text.replace(/\s/g, '').length === 0;
    if (!blank) suggested++;
    const cut = blank ? { text: undefined } : confidenceCut(r.text, r.tokens, { minConfidence, ...(minMeanLogprob !== undefined ? { minMeanLogprob } : {}) });
    if (cut.text === undefined) {
      if (correct) correctHidden++;
      continue;
    }
    shown++;
    if (cut.text === r.expected) exact++;
    if (r.expected.startsWith(cut.text)) right++;
    sim += similarity(cut.text, r.expected);
    rightChars += commonPrefix(cut.text, r.expected);
    shownChars += cut.text.length;
  }
  // A suggestion not shown leaves the line as it was: similarity 0 to the expected rest (which is never empty).
  return { minConfidence, minMeanLogprob, cases: rows.length, suggested, suppressed: suggested - shown, shown, exact, right, meanSimilarity: shown ? sim / shown : 0, similarityAllCases: sim / rows.length, rightChars, shownChars, correctUncut, correctHidden };
}

const pct = (n, d) => (d ? `${((100 * n) / d).toFixed(1)}%` : '—');
function table(results) {
  const lines = [
    '| min confidence | mean log-prob floor | shown | exact among shown | right so far among shown | mean edit similarity among shown | right characters / shown characters | correct without the cut, hidden by it |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const s of results) {
    lines.push(`| ${s.minConfidence === 0 ? 'no cut' : s.minConfidence} | ${s.minMeanLogprob ?? '—'} | ${s.shown}/${s.cases} (${pct(s.shown, s.cases)}) | ${s.exact} (${pct(s.exact, s.shown)}) | ${s.right} (${pct(s.right, s.shown)}) | ${s.meanSimilarity.toFixed(3)} | ${s.rightChars}/${s.shownChars} (${pct(s.rightChars, s.shownChars)}) | ${s.correctHidden} of ${s.correctUncut} |`);
  }
  return lines.join('\n');
}

/** The rule stated at the top of this file (`results` ordered as the sweep: no floor first, thresholds rising). */
function choose(results) {
  const eligible = results.filter((s) => (s.minConfidence > 0 || s.minMeanLogprob !== undefined) && s.shown > 0 && s.correctHidden * 3 <= s.correctUncut);
  let best;
  for (const s of eligible) if (!best || s.right / s.shown > best.right / best.shown + 1e-12) best = s;
  return best;
}

const report = { model: source, cases: cases.length, options: OPTIONS, fim: [...fimNotes], defaults: { minConfidence: DEFAULT_MIN_CONFIDENCE, minMeanLogprob: DEFAULT_MIN_MEAN_LOGPROB }, runs: {} };

/** Without the cut, with the extension's defaults and with the chosen pair, for both runs: the headline numbers. */
function summary(settings) {
  const lines = [
    '| run | filter | exact (all cases) | edit similarity (all cases) | shown | suppressed by the cut | exact among shown | right so far among shown | correct without the cut, hidden by it |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const [mode, label, s] of settings) {
    lines.push(`| ${mode} | ${label} | ${s.exact} (${pct(s.exact, s.cases)}) | ${s.similarityAllCases.toFixed(3)} | ${s.shown}/${s.cases} (${pct(s.shown, s.cases)}) | ${s.suppressed} of ${s.suggested} | ${pct(s.exact, s.shown)} | ${pct(s.right, s.shown)} | ${s.correctHidden} of ${s.correctUncut} |`);
  }
  return lines.join('\n');
}
for (const [mode, rows] of Object.entries(runs)) {
  // Every pair of threshold and mean floor; the rule picks among all of them.
  const grid = FLOORS.flatMap((f) => THRESHOLDS.map((t) => score(rows, t, f)));
  const chosen = choose(grid);
  const sweep = grid.filter((s) => s.minMeanLogprob === undefined);
  const atFloor = chosen?.minMeanLogprob !== undefined ? grid.filter((s) => s.minMeanLogprob === chosen.minMeanLogprob) : [];
  const floors = chosen ? grid.filter((s) => s.minConfidence === chosen.minConfidence) : [];
  const byLanguage = {};
  for (const lang of [...new Set(rows.map((r) => r.language))]) {
    const sub = rows.filter((r) => r.language === lang);
    byLanguage[lang] = [score(sub, 0), ...(chosen ? [score(sub, chosen.minConfidence, chosen.minMeanLogprob)] : [])];
  }
  report.runs[mode] = { grid, chosen: chosen && { minConfidence: chosen.minConfidence, minMeanLogprob: chosen.minMeanLogprob }, byLanguage };
  console.log(`\n### ${mode} (${rows.length} cases)\n\nNo mean floor:\n\n${table(sweep)}\n`);
  console.log(`Chosen: min confidence ${chosen?.minConfidence ?? 'none'}, mean log-prob floor ${chosen?.minMeanLogprob ?? 'none'}\n`);
  if (atFloor.length) console.log(`Mean floor ${chosen.minMeanLogprob}:\n\n${table(atFloor)}\n`);
  console.log(`Min confidence ${chosen?.minConfidence}, each floor:\n\n${table(floors)}\n`);
  for (const [lang, list] of Object.entries(byLanguage)) console.log(`${lang}:\n\n${table(list)}\n`);
}
const chosenWithSuffix = report.runs['prefix + suffix'].chosen;
const headline = [];
for (const mode of Object.keys(runs)) {
  headline.push([mode, 'no cut', score(runs[mode], 0)]);
  headline.push([mode, `defaults (${DEFAULT_MIN_CONFIDENCE}, floor ${DEFAULT_MIN_MEAN_LOGPROB})`, score(runs[mode], DEFAULT_MIN_CONFIDENCE, DEFAULT_MIN_MEAN_LOGPROB)]);
  if (chosenWithSuffix && (chosenWithSuffix.minConfidence !== DEFAULT_MIN_CONFIDENCE || chosenWithSuffix.minMeanLogprob !== DEFAULT_MIN_MEAN_LOGPROB)) {
    headline.push([mode, `chosen (${chosenWithSuffix.minConfidence}, floor ${chosenWithSuffix.minMeanLogprob ?? 'none'})`, score(runs[mode], chosenWithSuffix.minConfidence, chosenWithSuffix.minMeanLogprob)]);
  }
}
report.summary = headline.map(([mode, filter, s]) => ({ mode, filter, ...s }));
console.log(`\n### Summary: ${source}, ${cases.length} cases\n\n${summary(headline)}\n`);
console.log(`Chosen from the run with the suffix (what the extension sends): min confidence ${chosenWithSuffix?.minConfidence ?? 'none'}, mean log-prob floor ${chosenWithSuffix?.minMeanLogprob ?? 'none'}`);
// The cut reads the trace: a suggestion whose tokens do not spell it would be shown unjudged.
report.unscored = runs['prefix only'].filter((r) => r.text.trim() && confidenceCut(r.text, r.tokens, { minConfidence: 1 }).unscored).length;
console.log(`Suggestions the trace does not spell (shown unjudged): ${report.unscored}`);
console.log(`Suffix: ${report.fim.join('; ') || 'used'}`);
const same = runs['prefix only'].every((r, i) => r.text === runs['prefix + suffix'][i].text);
console.log(`Suggestions with and without the suffix identical: ${same}`);
report.sameWithSuffix = same;
if (outFile) fs.writeFileSync(outFile, JSON.stringify(report, null, 1));

// The settings snapshot (src/settings.ts) read from a fake configuration: defaults, clamping,
// allowed values, and workspace trust for the restricted settings.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadModule } from './bundle.mjs';

const { parseConfig, RESTRICTED_SETTINGS, DEFAULT_MIN_CONFIDENCE, decodingFor, taskDecodingFor } = await loadModule('src/settings.ts');

/**
 * A `WorkspaceConfiguration` for the lmLens section: `user` and `workspace` values by key, as VS Code
 * merges them (the workspace wins), with `inspect` telling them apart.
 */
function fakeConfig({ user = {}, workspace = {} } = {}) {
  return {
    get: (key, fallback) => (key in workspace ? workspace[key] : key in user ? user[key] : fallback),
    inspect: (key) => ({ defaultValue: undefined, globalValue: user[key], workspaceValue: workspace[key], workspaceFolderValue: undefined }),
  };
}

test('defaults when nothing is set', () => {
  const c = parseConfig(fakeConfig(), true);
  assert.deepEqual(c.models, { completion: 'gpt2-code', summarization: 'bart-translate-summarize', translation: 'bart-translate-summarize' });
  assert.equal(c.device, 'auto');
  assert.equal(c.dtype, 'auto');
  assert.deepEqual(c.decoding, { strategy: 'greedy', maxNewTokens: 64, temperature: 0.8, topK: 40, topP: 0.95, numBeams: 4, repetitionPenalty: 1.1, topAlternatives: 10 });
  assert.deepEqual(c.inline, { debounceMs: 150, maxNewTokens: 16, multiline: true, contextChars: 2000, minConfidence: 0.6, extraContextTokens: 256, trigger: 'automatic', excludeFiles: [] });
  assert.equal(c.continueContextChars, 8000);
  assert.deepEqual(c.decodingOverrides, {});
  assert.equal(c.summarizeOutput, 'insertBelow');
  assert.equal(c.translateOutput, 'insertBelow');
  assert.equal(c.translateTarget, '');
  assert.equal(c.surprisalDebounceMs, 400);
  assert.equal(c.cacheFolder, '');
  assert.equal(c.offline, false);
});

test('numbers are clamped to their range; non-numbers and unknown choices fall back to the default', () => {
  const c = parseConfig(
    fakeConfig({
      user: {
        'decoding.maxNewTokens': 100000,
        'decoding.temperature': 0,
        'decoding.topP': 2,
        'decoding.numBeams': -3,
        'decoding.topK': Number.NaN,
        'decoding.repetitionPenalty': 'high',
        'inline.debounceMs': -1,
        'inline.contextChars': 5,
        'surprisal.debounceMs': 1e9,
        'decoding.strategy': 'telepathy',
        device: 'tpu',
        'summarize.output': 'replace',
        'translate.output': 'sideways',
        'decoding.seed': 7,
      },
    }),
    true,
  );
  assert.equal(c.decoding.maxNewTokens, 4096);
  assert.equal(c.decoding.temperature, 0.01);
  assert.equal(c.decoding.topP, 1);
  assert.equal(c.decoding.numBeams, 1);
  assert.equal(c.decoding.topK, 40);
  assert.equal(c.decoding.repetitionPenalty, 1.1);
  assert.equal(c.inline.debounceMs, 0);
  assert.equal(c.inline.contextChars, 100);
  assert.equal(c.surprisalDebounceMs, 10000);
  assert.equal(c.decoding.strategy, 'greedy');
  assert.equal(c.device, 'auto');
  assert.equal(c.summarizeOutput, 'replace');
  assert.equal(c.translateOutput, 'insertBelow');
  assert.equal(c.decoding.seed, 7);
});

test('blank model sources fall back to the bundled models; text settings are trimmed', () => {
  const c = parseConfig(fakeConfig({ user: { 'models.completion': '   ', 'translate.targetLanguage': ' de ', cacheFolder: ' /tmp/hub ' } }), true);
  assert.equal(c.models.completion, 'gpt2-code');
  assert.equal(c.translateTarget, 'de');
  assert.equal(c.cacheFolder, '/tmp/hub');
});

test('an untrusted workspace cannot set the restricted settings; the user still can', () => {
  const workspace = { 'models.completion': './evil-model', 'models.summarization': './evil', 'models.translation': './evil', cacheFolder: './cache', 'decoding.maxNewTokens': 12 };
  const user = { 'models.translation': 'my-translator' };
  const untrusted = parseConfig(fakeConfig({ user, workspace }), false);
  assert.equal(untrusted.models.completion, 'gpt2-code');
  assert.equal(untrusted.models.summarization, 'bart-translate-summarize');
  assert.equal(untrusted.models.translation, 'my-translator', 'the user value applies');
  assert.equal(untrusted.cacheFolder, '');
  assert.equal(untrusted.decoding.maxNewTokens, 12, 'settings that are not restricted keep their workspace value');
  const trusted = parseConfig(fakeConfig({ user, workspace }), true);
  assert.equal(trusted.models.completion, './evil-model');
  assert.equal(trusted.cacheFolder, './cache');
  assert.deepEqual([...RESTRICTED_SETTINGS].sort(), ['cacheFolder', 'dtype', 'models.completion', 'models.summarization', 'models.translation', 'quantized']);
});

test('decoding overrides are only what the user set; task decoding keeps the model defaults otherwise', () => {
  const c = parseConfig(fakeConfig({ user: { 'decoding.numBeams': 2 }, workspace: { 'decoding.strategy': 'beam' } }), true);
  assert.deepEqual(c.decodingOverrides, { strategy: 'beam', numBeams: 2 });
  assert.deepEqual(taskDecodingFor(c, { attentions: true }), { topAlternatives: 10, strategy: 'beam', numBeams: 2, attentions: true });
  assert.equal(decodingFor(c, { maxNewTokens: 3 }).maxNewTokens, 3);
  // Unset settings leave the model's generation_config.json in force…
  assert.deepEqual(decodingFor(c), { maxNewTokens: 64, topAlternatives: 10, strategy: 'beam', numBeams: 2 });
  assert.equal(decodingFor(parseConfig(fakeConfig({}), true)).repetitionPenalty, undefined);
  // …and choosing sampling brings the sampling settings.
  const sampling = decodingFor(parseConfig(fakeConfig({ user: { 'decoding.strategy': 'sample', 'decoding.topK': 5 } }), true));
  assert.deepEqual(sampling, { maxNewTokens: 64, topAlternatives: 10, strategy: 'sample', topK: 5, temperature: 0.8, topP: 0.95 });
});

test('the Summarize / Translate / attention path gets the same clamped values (decodingOverrides)', () => {
  const c = parseConfig(
    fakeConfig({ workspace: { 'decoding.maxNewTokens': 1e9, 'decoding.numBeams': 100000, 'decoding.temperature': -5, 'decoding.seed': 'not a number', 'decoding.strategy': 'beam' } }),
    true,
  );
  assert.deepEqual(c.decodingOverrides, { strategy: 'beam', maxNewTokens: 4096, numBeams: 32, temperature: 0.01 });
  assert.deepEqual(taskDecodingFor(c), { topAlternatives: 10, strategy: 'beam', maxNewTokens: 4096, numBeams: 32, temperature: 0.01 });
});

test('inline.minConfidence: a probability, clamped to 0..1, the measured default otherwise', () => {
  assert.equal(DEFAULT_MIN_CONFIDENCE, 0.6);
  const at = (value) => parseConfig(fakeConfig({ user: { 'inline.minConfidence': value } }), true).inline.minConfidence;
  assert.equal(at(0.35), 0.35);
  assert.equal(at(0), 0, '0 turns the cut off');
  assert.equal(at(1), 1);
  assert.equal(at(1.5), 1);
  assert.equal(at(-0.2), 0);
  assert.equal(at('0.3'), 0.6, 'a string is not a number');
  assert.equal(at(Number.NaN), 0.6);
  assert.equal(at(null), 0.6);
  // Not a cost limit: a workspace may set it either way, trusted or not.
  assert.equal(parseConfig(fakeConfig({ user: { 'inline.minConfidence': 0.3 }, workspace: { 'inline.minConfidence': 0.05 } }), false).inline.minConfidence, 0.05);
  assert.equal(parseConfig(fakeConfig({ workspace: { 'inline.minConfidence': 0.7 } }), false).inline.minConfidence, 0.7);
});

test('an untrusted workspace cannot raise a limit above the user value or the default, only lower it', () => {
  const raising = {
    'decoding.maxNewTokens': 4096,
    'decoding.numBeams': 32,
    'decoding.topAlternatives': 50,
    'inline.maxNewTokens': 256,
    'inline.contextChars': 100000,
    'inline.debounceMs': 0,
    'surprisal.debounceMs': 0,
  };
  const untrusted = parseConfig(fakeConfig({ user: { 'decoding.maxNewTokens': 200 }, workspace: raising }), false);
  assert.equal(untrusted.decoding.maxNewTokens, 200, 'the user value bounds it');
  assert.equal(untrusted.decoding.numBeams, 4, 'the default bounds it');
  assert.equal(untrusted.decoding.topAlternatives, 10);
  assert.deepEqual(untrusted.inline, { debounceMs: 150, maxNewTokens: 16, multiline: true, contextChars: 2000, minConfidence: 0.6, extraContextTokens: 256, trigger: 'automatic', excludeFiles: [] });
  assert.equal(untrusted.surprisalDebounceMs, 400);
  assert.deepEqual(untrusted.decodingOverrides, { maxNewTokens: 200, numBeams: 4 });
  const trusted = parseConfig(fakeConfig({ user: { 'decoding.maxNewTokens': 200 }, workspace: raising }), true);
  assert.equal(trusted.decoding.maxNewTokens, 4096, 'a trusted workspace may raise it');
  assert.equal(trusted.inline.contextChars, 100000);
  const lowering = parseConfig(fakeConfig({ workspace: { 'decoding.maxNewTokens': 8, 'inline.debounceMs': 900 } }), false);
  assert.equal(lowering.decoding.maxNewTokens, 8);
  assert.equal(lowering.inline.debounceMs, 900);
});

test('dtype: the setting, the deprecated quantized as q8 while dtype is auto, unknown values as auto, workspace ignored when untrusted', () => {
  assert.equal(parseConfig(fakeConfig({ user: { dtype: 'q4' } }), true).dtype, 'q4');
  assert.equal(parseConfig(fakeConfig({ user: { quantized: true } }), true).dtype, 'q8');
  assert.equal(parseConfig(fakeConfig({ user: { quantized: true, dtype: 'fp16' } }), true).dtype, 'fp16', 'dtype wins');
  assert.equal(parseConfig(fakeConfig({ user: { dtype: 'int4' } }), true).dtype, 'auto');
  const workspace = fakeConfig({ user: { dtype: 'q8' }, workspace: { dtype: 'fp32' } });
  assert.equal(parseConfig(workspace, true).dtype, 'fp32');
  assert.equal(parseConfig(workspace, false).dtype, 'q8', "an untrusted workspace's dtype is ignored");
  const alias = fakeConfig({ workspace: { quantized: true } });
  assert.equal(parseConfig(alias, true).dtype, 'q8');
  assert.equal(parseConfig(alias, false).dtype, 'auto', 'nor can it choose q8 through the quantized alias');
});

test('inline trigger and excluded files; Continue\'s own context length, which a workspace may lower but not raise when untrusted', () => {
  const c = parseConfig(fakeConfig({ user: { 'inline.trigger': 'onRequest', 'inline.excludeFiles': ['**/*.md', '', 7, ' **/secrets/** '], 'continue.contextChars': 20000 } }), true);
  assert.equal(c.inline.trigger, 'onRequest');
  assert.deepEqual(c.inline.excludeFiles, ['**/*.md', '**/secrets/**']);
  assert.equal(c.continueContextChars, 20000);
  assert.equal(parseConfig(fakeConfig({ user: { 'inline.trigger': 'sometimes' } }), true).inline.trigger, 'automatic');
  assert.equal(parseConfig(fakeConfig({ workspace: { 'continue.contextChars': 300000 } }), false).continueContextChars, 8000);
  assert.equal(parseConfig(fakeConfig({ workspace: { 'continue.contextChars': 500 } }), false).continueContextChars, 500);
});

test('inline.extraContextTokens: tokens 0..8192 (0 off), a workspace may lower but not raise it when untrusted; continue.minConfidence off by default, a probability', () => {
  assert.equal(parseConfig(fakeConfig({}), true).inline.extraContextTokens, 256);
  assert.equal(parseConfig(fakeConfig({ user: { 'inline.extraContextTokens': 0 } }), true).inline.extraContextTokens, 0);
  assert.equal(parseConfig(fakeConfig({ user: { 'inline.extraContextTokens': 1e6 } }), true).inline.extraContextTokens, 8192);
  assert.equal(parseConfig(fakeConfig({ user: { 'inline.extraContextTokens': -3 } }), true).inline.extraContextTokens, 0);
  assert.equal(parseConfig(fakeConfig({ workspace: { 'inline.extraContextTokens': 4000 } }), false).inline.extraContextTokens, 256);
  assert.equal(parseConfig(fakeConfig({ workspace: { 'inline.extraContextTokens': 4000 } }), true).inline.extraContextTokens, 4000);
  assert.equal(parseConfig(fakeConfig({}), true).continueMinConfidence, 0);
  assert.equal(parseConfig(fakeConfig({ user: { 'continue.minConfidence': 0.2 } }), true).continueMinConfidence, 0.2);
  assert.equal(parseConfig(fakeConfig({ user: { 'continue.minConfidence': 3 } }), true).continueMinConfidence, 1);
});

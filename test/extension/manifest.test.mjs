// The manifest and the code agree: every registered command is contributed and vice versa, every
// setting the code reads is declared, and the webview scripts the panels load are built.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { loadModule, repoRoot } from './bundle.mjs';

const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
const read = (p) => readFileSync(path.join(repoRoot, p), 'utf8');

test('commands registered in extension.ts are exactly those contributed', () => {
  const registered = [...read('src/extension.ts').matchAll(/'(lmLens\.[\w.]+)':/g)].map((m) => m[1]).sort();
  const contributed = pkg.contributes.commands.map((c) => c.command).sort();
  assert.deepEqual(registered, contributed);
  for (const c of pkg.contributes.commands) assert.equal(c.category, 'LM Lens');
  const menuCommands = Object.values(pkg.contributes.menus).flat().map((m) => m.command).filter(Boolean);
  for (const c of menuCommands) assert.ok(contributed.includes(c), `menu entry for unknown command ${c}`);
});

test('every setting config.ts reads is declared, and the restricted ones are listed for workspace trust', async () => {
  // The settings are read through settings.ts: run it against a fake that records every key asked for.
  const { parseConfig, RESTRICTED_SETTINGS, SECTION } = await loadModule('src/settings.ts');
  const declared = Object.keys(pkg.contributes.configuration.properties);
  const keys = new Set();
  const recorder = {
    get: (key, fallback) => (keys.add(key), fallback),
    inspect: (key) => (keys.add(key), undefined),
  };
  parseConfig(recorder, true);
  parseConfig(recorder, false);
  assert.ok(keys.size > 10);
  for (const key of keys) assert.ok(declared.includes(`${SECTION}.${key}`), `${SECTION}.${key} is read but not declared`);
  const restricted = pkg.capabilities.untrustedWorkspaces.restrictedConfigurations;
  assert.equal(pkg.capabilities.untrustedWorkspaces.supported, 'limited');
  for (const key of ['models.completion', 'models.summarization', 'models.translation', 'cacheFolder', 'dtype']) assert.ok(RESTRICTED_SETTINGS.includes(key), `${key} is restricted in the code`);
  for (const key of RESTRICTED_SETTINGS) assert.ok(restricted.includes(`${SECTION}.${key}`), `${SECTION}.${key} must be restricted in package.json`);
  assert.equal(pkg.contributes.configuration.properties['lmLens.inline.enabled'].scope, 'language-overridable');
});

test('webview panels are activated and restored, and their scripts and styles exist', () => {
  for (const view of ['lmLens.tokenProbabilities', 'lmLens.attentionInspector']) assert.ok(pkg.activationEvents.includes(`onWebviewPanel:${view}`));
  assert.ok(existsSync(path.join(repoRoot, 'media', 'panels.css')));
  assert.ok(existsSync(path.join(repoRoot, 'media', 'icon.png')));
  for (const script of ['tokenProbabilities', 'attentionInspector']) assert.ok(existsSync(path.join(repoRoot, 'media', `${script}.ts`)));
  const css = read('media/panels.css');
  assert.match(css, /var\(--vscode-/);
  assert.doesNotMatch(css.replace(/var\([^)]*\)|rgba?\([^)]*\)|#[0-9a-f]{3,8}\b(?=[^;]*\)\s*;)/gi, ''), /color:\s*#[0-9a-f]{3,8}\s*;/i, 'colours come from the theme');
});

test('the icon is a 128×128 PNG', () => {
  const png = readFileSync(path.join(repoRoot, 'media', 'icon.png'));
  assert.equal(png.subarray(1, 4).toString(), 'PNG');
  assert.equal(png.readUInt32BE(16), 128);
  assert.equal(png.readUInt32BE(20), 128);
});

test('no hand-made vscode module exists in the repository', () => {
  const offenders = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (['node_modules', '.git', 'dist', '.tools', '.cache', 'models'].includes(e.name)) continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/^vscode\.(m?js|ts|cjs)$/.test(e.name)) offenders.push(p);
    }
  };
  walk(repoRoot);
  assert.deepEqual(offenders, []);
});

test('package.json declares the engine boundary\'s ranges for the decoding settings', async () => {
  const { DECODING_LIMITS } = await import(path.join(repoRoot, 'dist', 'inference.js'));
  const props = pkg.contributes.configuration.properties;
  for (const key of ['maxNewTokens', 'temperature', 'topK', 'topP', 'numBeams', 'repetitionPenalty', 'topAlternatives']) {
    const declared = props[`lmLens.decoding.${key}`];
    const limit = DECODING_LIMITS[key];
    assert.ok(declared, key);
    // The panel's alternatives start at 1 (inline completions ask the engine for 0); topP's 0 means "almost greedy".
    const min = key === 'topAlternatives' ? 1 : key === 'topP' ? 0.001 : limit.min;
    assert.equal(declared.minimum ?? 0, key === 'topP' ? 0 : min, `${key} minimum`);
    assert.equal(declared.maximum, limit.max, `${key} maximum`);
  }
});

// `npm ci` runs no dependency install scripts (.npmrc: ignore-scripts=true), so nothing is downloaded
// from outside the npm registry at install time. That only holds while no dependency needs its
// script: a new package with an install script fails here until someone has checked what it does
// and said so in .npmrc.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './bundle.mjs';

const read = (p) => readFileSync(path.join(repoRoot, p), 'utf8');

test('.npmrc turns dependency install scripts off', () => {
  const settings = read('.npmrc')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  assert.ok(settings.includes('ignore-scripts=true'), `.npmrc settings: ${settings.join(', ')}`);
});

test('every dependency with an install script is one .npmrc explains', () => {
  const lock = JSON.parse(read('package-lock.json'));
  const withScripts = Object.entries(lock.packages)
    .filter(([, p]) => p.hasInstallScript)
    .map(([key]) => key.replace(/^.*node_modules\//, ''));
  const explained = [...read('.npmrc').matchAll(/^#\s{3}(\S+)\s{2,}/gm)].map((m) => m[1]);
  assert.ok(explained.length >= 4, `.npmrc lists ${explained.length} packages`);
  for (const name of new Set(withScripts)) assert.ok(explained.includes(name), `${name} has an install script that .npmrc does not explain`);
});

test('the CUDA provider is an explicit step that names onnxruntime-node\'s own switch', () => {
  const pkg = JSON.parse(read('package.json'));
  assert.match(pkg.scripts['install:cuda'], /onnxruntime-node\/script\/install\.js --onnxruntime-node-install$/);
  assert.match(read('README.md'), /npm run install:cuda/);
});

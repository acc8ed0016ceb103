// Bundles the extension host, the inference worker, the CLI and the webview scripts as separate entries.
import * as esbuild from 'esbuild';
import { existsSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const nodeCommon = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  // Native and large runtime packages are loaded from node_modules at run time.
  external: ['vscode', 'onnxruntime-node', '@huggingface/transformers', 'onnx-proto', 'sharp'],
  logLevel: 'warning',
};

const entries = [
  { ...nodeCommon, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js' },
  { ...nodeCommon, entryPoints: ['src/inference/worker.ts'], outfile: 'dist/worker.js' },
  { ...nodeCommon, entryPoints: ['src/inference/index.ts'], outfile: 'dist/inference.js' },
  { ...nodeCommon, entryPoints: ['src/cli.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } },
];
for (const panel of ['tokenProbabilities', 'attentionInspector']) {
  const entry = `media/${panel}.ts`;
  if (existsSync(entry)) {
    entries.push({
      entryPoints: [entry],
      outfile: `dist/media/${panel}.js`,
      bundle: true,
      platform: 'browser',
      target: 'es2022',
      format: 'iife',
      sourcemap: !production,
      minify: production,
      logLevel: 'warning',
    });
  }
}

const present = entries.filter((e) => existsSync(e.entryPoints[0]));
if (watch) {
  for (const e of present) await (await esbuild.context(e)).watch();
} else {
  await Promise.all(present.map((e) => esbuild.build(e)));
}

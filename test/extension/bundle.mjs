// Bundles one TypeScript module of the extension (one without a `vscode` import) for a unit test.
import * as esbuild from 'esbuild';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const outDir = mkdtempSync(path.join(tmpdir(), 'lm-lens-unit-'));

export async function loadModule(relativePath) {
  const outfile = path.join(outDir, `${relativePath.replace(/[\\/.]/g, '_')}.mjs`);
  await esbuild.build({
    entryPoints: [path.join(repoRoot, relativePath)],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // A module that needs the editor must not be unit-tested here: make that fail loudly.
    external: [],
    logLevel: 'silent',
  });
  return import(pathToFileURL(outfile).href);
}

#!/usr/bin/env node
// Packages the extension as a platform-specific VSIX (the Marketplace's way to ship native
// binaries): `vsce package --target <platform>` with `.vscodeignore` plus the onnxruntime-node
// binaries of every other platform left out.
//
//   npm run package                       # for this machine (linux-x64 here)
//   npm run package -- --target win32-x64 # needs that platform's sharp binaries in node_modules
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, statSync, mkdtempSync, rmSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { recordVsixInputs, vsixInputsHash } from './vsixInputs.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TARGETS = ['linux-x64', 'linux-arm64', 'darwin-arm64', 'win32-x64', 'win32-arm64'];

const argv = process.argv.slice(2);
const ti = argv.indexOf('--target');
const target = ti >= 0 ? argv[ti + 1] : `${process.platform}-${process.arch}`;
if (!TARGETS.includes(target)) {
  console.error(`Unsupported target ${target}; onnxruntime-node ships binaries for ${TARGETS.join(', ')}.`);
  process.exit(2);
}
const [os, arch] = target.split('-');

const ignore = [readFileSync(join(ROOT, '.vscodeignore'), 'utf8'), `# added by scripts/package.mjs for ${target}`];
const ortBin = join(ROOT, 'node_modules/onnxruntime-node/bin/napi-v6');
if (existsSync(ortBin)) {
  for (const o of readdirSync(ortBin)) {
    for (const a of readdirSync(join(ortBin, o))) {
      if (o !== os || a !== arch) ignore.push(`node_modules/onnxruntime-node/bin/napi-v6/${o}/${a}/**`);
    }
  }
}
// sharp's prebuilt packages are named @img/sharp-<os>-<arch> and @img/sharp-libvips-<os>-<arch>.
const img = join(ROOT, 'node_modules/@img');
if (existsSync(img)) {
  for (const p of readdirSync(img)) {
    const m = /^sharp-(?:libvips-)?([a-z0-9]+)-([a-z0-9]+)$/.exec(p);
    if (m && `${m[1]}-${m[2]}` !== target) ignore.push(`node_modules/@img/${p}/**`);
  }
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
if (pkg.icon && !existsSync(join(ROOT, pkg.icon))) {
  console.error(`package.json names the icon ${pkg.icon}, which does not exist.`);
  process.exit(1);
}
const out = join(ROOT, `${pkg.name}-${pkg.version}-${target}.vsix`);
const tmp = mkdtempSync(join(tmpdir(), 'vsce-'));
const ignoreFile = join(tmp, 'vscodeignore');
writeFileSync(ignoreFile, ignore.join('\n') + '\n');
const vsce = join(ROOT, 'node_modules/@vscode/vsce/vsce');
const inputs = vsixInputsHash(ROOT, target); // before vsce: what was packaged, even if files change meanwhile
try {
  execFileSync(process.execPath, [vsce, 'package', '--target', target, '--ignoreFile', ignoreFile, '--out', out, ...argv.filter((_, i) => i !== ti && i !== ti + 1)], {
    cwd: ROOT,
    stdio: 'inherit',
  });
} catch (e) {
  console.error(`vsce package failed (${e.status ?? e.message})`);
  process.exitCode = 1;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
if (process.exitCode) process.exit();
recordVsixInputs(out, inputs);
const mb = statSync(out).size / 1024 / 1024;
console.log(`VSIX: ${out} (${mb.toFixed(1)} MiB)`);

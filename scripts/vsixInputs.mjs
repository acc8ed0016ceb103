// What a VSIX is made of, as one hash: `npm run package` records it next to the VSIX it writes, and
// `npm start` / `npm run test:e2e` reuse that VSIX while the hash is unchanged (seconds instead of
// ~40 s of building and zipping). Content hashes, not timestamps: a checkout that rewrites files
// without changing them does not force a repackage, and any edit does.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Files and folders whose content ends up in the VSIX (directly, or bundled by esbuild). */
const INPUTS = [
  'package.json',
  'package-lock.json',
  '.vscodeignore',
  'README.md',
  'LICENSE',
  'tsconfig.json',
  'scripts/build.mjs',
  'scripts/package.mjs',
  'src',
  'media',
  'models',
  // The installed dependency tree (npm rewrites it on every install that changes node_modules).
  'node_modules/.package-lock.json',
];
/** Never packaged (.vscodeignore), and large or volatile (the e2e tests rewrite the README screenshots). */
const SKIP = new Set(['models/.work', 'models/recipes', 'node_modules', 'media/screenshots']);

function* files(root, path) {
  const full = join(root, path);
  if (!existsSync(full) || SKIP.has(path)) return;
  if (statSync(full).isDirectory()) {
    for (const name of readdirSync(full).sort()) {
      if (name === '__pycache__' || name === '.DS_Store') continue;
      yield* files(root, path ? `${path}/${name}` : name);
    }
  } else {
    yield path;
  }
}

/** The hash of everything the VSIX for `target` is built from. */
export function vsixInputsHash(root, target) {
  const hash = createHash('sha256').update(`target ${target}\n`);
  for (const input of INPUTS) {
    for (const file of files(root, input)) {
      hash.update(`${file}\0`);
      hash.update(readFileSync(join(root, file)));
      hash.update('\0');
    }
  }
  return hash.digest('hex');
}

const recordOf = (vsix) => `${vsix}.inputs`;

/** Remembers which inputs `vsix` was built from. */
export function recordVsixInputs(vsix, hash) {
  writeFileSync(recordOf(vsix), `${hash}\n`);
}

/** True when `vsix` exists and was built from exactly these inputs. */
export function vsixIsCurrent(vsix, hash) {
  if (!vsix || !existsSync(vsix) || !existsSync(recordOf(vsix))) return false;
  return readFileSync(recordOf(vsix), 'utf8').trim() === hash;
}

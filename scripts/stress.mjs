#!/usr/bin/env node
// `npm run stress`: the fault and fuzz tests of the unit suite with their large counts (50 kills,
// 200 cancellations, more fuzzed messages), after a build.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const files = ['test/inference/isolation.test.mjs', 'test/inference/requestFuzz.test.mjs', 'test/extension/messageFuzz.test.mjs'];
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, LMLENS_STRESS: '1' },
});
process.exit(r.status ?? 1);

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadModule } from './bundle.mjs';

const { PrefixCache } = await loadModule('src/completion/prefixCache.ts');
const { GenerationGate, Debouncer, delay } = await loadModule('src/generation/scheduler.ts');
const { trimCompletion } = await loadModule('src/completion/completionText.ts');

test('prefix cache answers typing that follows the cached completion', () => {
  const cache = new PrefixCache();
  cache.set('m', 'def add(a, b):\n    ', 'return a + b');
  assert.equal(cache.get('m', 'def add(a, b):\n    '), 'return a + b');
  assert.equal(cache.get('m', 'def add(a, b):\n    ret'), 'urn a + b');
  assert.equal(cache.get('m', 'def add(a, b):\n    x'), undefined, 'diverged from the completion');
  assert.equal(cache.get('other', 'def add(a, b):\n    '), undefined, 'another key');
  assert.equal(cache.get('m', 'def add(a, b):\n    return a + b'), undefined, 'fully typed: nothing left');
});

test('prefix cache evicts the least recently used entry', () => {
  const cache = new PrefixCache(2);
  cache.set('k', 'a', 'AAA');
  cache.set('k', 'b', 'BBB');
  assert.equal(cache.get('k', 'a'), 'AAA'); // a is now the most recent
  cache.set('k', 'c', 'CCC');
  assert.equal(cache.size, 2);
  assert.equal(cache.get('k', 'b'), undefined);
  assert.equal(cache.get('k', 'a'), 'AAA');
  cache.set('k', 'd', '   ');
  assert.equal(cache.size, 2, 'blank completions are not cached');
});

test('delay resolves false when aborted', async () => {
  const c = new AbortController();
  const p = delay(10_000, c.signal);
  c.abort();
  assert.equal(await p, false);
  assert.equal(await delay(1), true);
});

/** A fake engine call: resolves after `ms` unless the lease is aborted first. */
function work(lease, ms, log, name) {
  return new Promise((resolve) => {
    log.push(`start ${name}`);
    // Like the client: a request whose signal is already aborted does not start.
    if (lease.signal.aborted) {
      lease.release();
      resolve('aborted');
      return;
    }
    const t = setTimeout(() => {
      log.push(`done ${name}`);
      lease.release();
      resolve('done');
    }, ms);
    lease.signal.addEventListener('abort', () => {
      clearTimeout(t);
      // The engine takes a moment to notice.
      setTimeout(() => {
        log.push(`aborted ${name}`);
        lease.release();
        resolve('aborted');
      }, 5);
    });
  });
}

test('the gate runs one generation at a time: a burst of inline requests leaves only the last', async () => {
  const gate = new GenerationGate();
  const log = [];
  let running = 0;
  let maxRunning = 0;
  const request = async (name) => {
    const lease = await gate.acquire('inline', name);
    if (!lease) return 'dropped';
    running++;
    maxRunning = Math.max(maxRunning, running);
    const r = await work(lease, 30, log, name);
    running--;
    return r;
  };
  const results = await Promise.all(['a', 'b', 'c', 'd'].map((n) => request(n)));
  assert.equal(maxRunning, 1);
  assert.equal(results.at(-1), 'done');
  assert.deepEqual(results.slice(0, 3).filter((r) => r === 'done'), []);
  assert.equal(gate.state.busy, false);
});

test('an inline request never interrupts a command; a command interrupts inline work', async () => {
  const states = [];
  const gate = new GenerationGate((s) => states.push(s.busy));
  const log = [];
  const cmd = await gate.acquire('command', 'continue');
  assert.ok(cmd);
  assert.equal(await gate.acquire('inline', 'ghost'), undefined);
  assert.equal(await gate.acquire('background', 'surprisal'), undefined);
  cmd.release();
  const inline = await gate.acquire('inline', 'ghost');
  const running = work(inline, 1000, log, 'ghost');
  const cmd2 = await gate.acquire('command', 'summarize');
  assert.ok(cmd2);
  assert.equal(await running, 'aborted');
  cmd2.release();
  assert.deepEqual(states, [true, false, true, false, true, false]);
});

test('stop aborts the running generation', async () => {
  const gate = new GenerationGate();
  assert.equal(gate.stop(), false);
  const lease = await gate.acquire('command', 'x');
  assert.equal(gate.stop(), true);
  assert.equal(lease.signal.aborted, true);
  lease.release();
  lease.release(); // idempotent
  assert.equal(gate.state.busy, false);
});

test('an aborted outer signal cancels the wait for a lease', async () => {
  const gate = new GenerationGate();
  const c = new AbortController();
  c.abort();
  assert.equal(await gate.acquire('inline', 'x', c.signal), undefined);
  const c2 = new AbortController();
  const lease = await gate.acquire('inline', 'y', c2.signal);
  c2.abort();
  assert.equal(lease.signal.aborted, true, 'the outer signal reaches the lease');
  lease.release();
});

test('debouncer runs once after a burst and once more for triggers during a run', async () => {
  let runs = 0;
  let release;
  const d = new Debouncer(async () => {
    runs++;
    if (runs === 1) await new Promise((r) => (release = r));
  }, () => 20);
  for (let i = 0; i < 5; i++) d.trigger();
  await delay(50);
  assert.equal(runs, 1);
  d.trigger();
  d.trigger();
  await delay(50);
  assert.equal(runs, 1, 'waits for the running action');
  release();
  await d.idle();
  assert.equal(runs, 2);
  d.trigger();
  d.cancel();
  await delay(40);
  assert.equal(runs, 2, 'cancelled');
});

test('trimCompletion keeps one line when text follows the cursor, several otherwise', () => {
  assert.equal(trimCompletion('foo(x)\n    bar()\n', { multiline: false, lineSuffix: '' }), 'foo(x)');
  assert.equal(trimCompletion('foo(x)\n    bar()\n', { multiline: true, lineSuffix: ')' }), 'foo(x)');
  assert.equal(trimCompletion('foo(x)\n    bar()\n\n\nbaz', { multiline: true, lineSuffix: '', stopStrings: ['\n\n'] }), 'foo(x)\n    bar()');
  assert.equal(trimCompletion('a\nb\nc\nd', { multiline: true, lineSuffix: '', maxLines: 2 }), 'a\nb');
  assert.equal(trimCompletion('  \n', { multiline: true, lineSuffix: '' }), '');
});

test('a completion does not repeat the text after the cursor: its end that is already there is cut', () => {
  assert.equal(trimCompletion('a, b)', { multiline: false, lineSuffix: ')' }), 'a, b');
  assert.equal(trimCompletion('x + 1):', { multiline: false, lineSuffix: '):' }), 'x + 1');
  assert.equal(trimCompletion('value) {', { multiline: false, lineSuffix: ') {' }), 'value');
  assert.equal(trimCompletion('a, b', { multiline: false, lineSuffix: ')' }), 'a, b', 'no overlap: unchanged');
  assert.equal(trimCompletion('return a + b', { multiline: true, lineSuffix: '' }), 'return a + b');
  assert.equal(trimCompletion('name)', { multiline: false, lineSuffix: '  )  ' }), 'name', 'spaces around the suffix do not hide it');
  assert.equal(trimCompletion('foo(x)', { multiline: false, lineSuffix: ')' }), 'foo(x)', 'print(|) + foo(x): its parenthesis is its own');
  assert.equal(trimCompletion('x = 5', { multiline: false, lineSuffix: '= 5' }), 'x', 'the whole rest of the line repeated');
  assert.equal(trimCompletion('total += 1', { multiline: false, lineSuffix: '1' }), 'total += 1', 'one character of text is not taken for a repeat');
  // Seen in the editor: `compute(input)|;` completed with ` => void 0;` would have left `;;`.
  assert.equal(trimCompletion(' => void 0;', { multiline: false, lineSuffix: ';' }), ' => void 0', 'punctuation alone repeated');
  assert.equal(trimCompletion('a, b,', { multiline: false, lineSuffix: ',' }), 'a, b');
  assert.equal(trimCompletion('x + 1;', { multiline: false, lineSuffix: ');' }), 'x + 1;', 'only the whole rest of the line counts');
});

test('Generate from Prompt opens its document in the prompt\'s language', async () => {
  const { promptLanguage } = await loadModule('src/editor/promptLanguage.ts');
  assert.equal(promptLanguage('def fibonacci(n):\n'), 'python');
  assert.equal(promptLanguage('import os\nprint(os.getcwd())'), 'python');
  assert.equal(promptLanguage('export interface User {\n  name: string;\n}'), 'typescript');
  assert.equal(promptLanguage('function add(a: number, b: number) {'), 'typescript');
  assert.equal(promptLanguage('const x = require("fs");'), 'javascript');
  assert.equal(promptLanguage('# Release notes\n\nThis version'), 'markdown');
  assert.equal(promptLanguage('Once upon a time'), 'plaintext');
});

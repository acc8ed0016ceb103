// The snippet ring for inline completions (llama.vscode's ring buffer of chunks) and the comment syntax the
// prompt context is written in.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadModule } from './bundle.mjs';

const { SnippetRing, chunkAround, lineSimilarity } = await loadModule('src/completion/snippetRing.ts');
const { commentSyntax } = await loadModule('src/completion/commentSyntax.ts');

const numbered = (n, name = 'line') => Array.from({ length: n }, (_, i) => `${name}_${i} = ${i}`);

test('a chunk is the lines centred on the cursor, shifted to stay inside the file', () => {
  const lines = numbered(100);
  assert.deepEqual(chunkAround(lines, 50, 4), ['line_48 = 48', 'line_49 = 49', 'line_50 = 50', 'line_51 = 51']);
  assert.deepEqual(chunkAround(lines, 1, 4), lines.slice(0, 4));
  assert.deepEqual(chunkAround(lines, 99, 4), lines.slice(96, 100));
  assert.deepEqual(chunkAround(lines.slice(0, 2), 0, 4), lines.slice(0, 2));
});

test('similarity is Jaccard over the sets of lines', () => {
  assert.equal(lineSimilarity(new Set(['a', 'b', 'c']), new Set(['b', 'c', 'd'])), 2 / 4);
  assert.equal(lineSimilarity(new Set(), new Set()), 1);
  assert.equal(lineSimilarity(new Set(['a']), new Set(['b'])), 0);
});

test('picks: too few non-blank lines are skipped, blank edges trimmed, the text ends with a newline', () => {
  const ring = new SnippetRing({ chunkLines: 8 });
  assert.equal(ring.pick('a.py', 'python', ['', 'x = 1', '', 'y = 2', ''], 2, 1), false, 'two non-blank lines say too little');
  assert.equal(ring.size, 0);
  assert.equal(ring.pick('a.py', 'python', ['', 'x = 1  ', 'y = 2', 'z = 3', '', ''], 2, 1), true);
  assert.deepEqual(ring.snippets('python', 'other.py'), [{ path: 'a.py', languageId: 'python', text: 'x = 1\ny = 2\nz = 3\n', time: 1 }]);
});

test('only the same language and other files; newest first', () => {
  const ring = new SnippetRing({ chunkLines: 8 });
  ring.pick('a.py', 'python', numbered(8, 'a'), 4, 1);
  ring.pick('b.ts', 'typescript', numbered(8, 'b'), 4, 2);
  ring.pick('c.py', 'python', numbered(8, 'c'), 4, 3);
  assert.deepEqual(ring.snippets('python', 'x.py').map((s) => s.path), ['c.py', 'a.py']);
  assert.deepEqual(ring.snippets('python', 'c.py').map((s) => s.path), ['a.py'], 'not the file being completed');
  assert.deepEqual(ring.snippets('typescript', 'x.ts').map((s) => s.path), ['b.ts']);
  ring.forget('a.py');
  assert.deepEqual(ring.snippets('python', 'x.py').map((s) => s.path), ['c.py']);
});

test('deduplication: the same chunk again moves to the newest place; a chunk over 0.9 similar replaces the older one; a different one is kept beside it', () => {
  const ring = new SnippetRing({ chunkLines: 32 });
  const file = numbered(32, 'v');
  ring.pick('a.py', 'python', file, 16, 1);
  ring.pick('b.py', 'python', numbered(32, 'w'), 16, 2);
  ring.pick('a.py', 'python', file, 16, 3);
  assert.equal(ring.size, 2);
  assert.deepEqual(ring.snippets('python', 'x.py').map((s) => [s.path, s.time]), [['a.py', 3], ['b.py', 2]]);
  // One line edited: 31 of 33 distinct lines shared (0.94): the edited chunk replaces the old one.
  const edited = [...file];
  edited[10] = 'v_10 = 1000';
  ring.pick('a.py', 'python', edited, 16, 4);
  assert.equal(ring.size, 2);
  assert.match(ring.snippets('python', 'x.py')[0].text, /v_10 = 1000/);
  // Four lines edited: 28 of 36 shared (0.78): both stay.
  const more = [...edited];
  for (const i of [1, 2, 3, 4]) more[i] = `changed_${i}`;
  ring.pick('a.py', 'python', more, 16, 5);
  assert.equal(ring.size, 3);
});

test('a full ring evicts its oldest chunk first', () => {
  const ring = new SnippetRing({ capacity: 3, chunkLines: 8 });
  for (const [i, name] of ['a', 'b', 'c', 'd'].entries()) ring.pick(`${name}.py`, 'python', numbered(8, name), 4, i);
  assert.equal(ring.size, 3);
  assert.deepEqual(ring.snippets('python', 'x.py').map((s) => s.path), ['d.py', 'c.py', 'b.py']);
  ring.clear();
  assert.equal(ring.size, 0);
});

test('defaults are llama.vscode\'s: 16 chunks of 32 lines', () => {
  const ring = new SnippetRing();
  assert.equal(ring.capacity, 16);
  assert.equal(ring.chunkLines, 32);
  for (let i = 0; i < 20; i++) ring.pick(`f${i}.py`, 'python', numbered(40, `f${i}`), 20, i);
  assert.equal(ring.size, 16);
  assert.equal(ring.snippets('python', 'x.py')[0].text.split('\n').length - 1, 32);
});

test('comment syntax by language: line comments, block comments, none for plain text', () => {
  assert.deepEqual(commentSyntax('python'), { open: '#' });
  assert.deepEqual(commentSyntax('typescript'), { open: '//' });
  assert.deepEqual(commentSyntax('sql'), { open: '--' });
  assert.deepEqual(commentSyntax('html'), { open: '<!--', close: '-->' });
  assert.deepEqual(commentSyntax('css'), { open: '/*', close: '*/' });
  assert.equal(commentSyntax('plaintext'), undefined);
  assert.equal(commentSyntax('json'), undefined);
});

// Loops end a suggestion: a line the text already wrote, a stretch repeated back to back. What the
// trial in the editor saw from the bundled GPT is cut at the first repetition; ordinary code is not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { newEngine, root } from '../helpers.mjs';

const { repetitionStart } = await import(join(root, 'dist', 'inference.js'));
const cut = (text, promptLine = '') => {
  const i = repetitionStart(text, promptLine);
  return i < 0 ? null : text.slice(0, i);
};

test('repetitions are found where they begin', () => {
  assert.equal(cut('"""Return a string of the number of the number of the number of the'), '"""Return a string of the number of the');
  assert.equal(cut('return a: number;\n  return a: number;\n', '  '), 'return a: number;\n');
  assert.equal(cut('\n#\n#\n'), '\n#\n');
  assert.equal(cut('const c = c.ws.ws.ws.ws'), 'const c = c.ws');
  assert.equal(cut(', self.name, self.name, self.name'), ', self.name', 'a short stretch three times');
  assert.equal(cut('the number of items, the number of items, '), 'the number of items, ', 'a long stretch twice');
  assert.equal(cut('x = compute()\ny = 2\nx = compute()\n'), 'x = compute()\ny = 2\n', 'a line seen before, not back to back');
  assert.equal(cut('value)\n    return value)\n', '    return '), 'value)\n', 'the first line continues the prompt\'s line: the next repeats it whole');
  assert.equal(cut(' # The\n    # The\n', 'x = compute(input)'), ' # The\n', 'what it wrote on the cursor\'s line, again below (seen in the editor)');
  assert.equal(cut('\n    # the result\n', 'x = compute(input)  # the result'), '\n', 'the prompt line\'s trailing comment as a line of its own');
  assert.equal(cut('\n    // keep it\n', 'let y = 2; // keep it'), '\n');
});

test('ordinary code is left alone', () => {
  for (const text of [
    'for i in range(10):\n    print(i)\n',
    '        }\n    }\n}\n',
    'if a:\n    pass\nelse:\n    x = 1\n',
    'data = [0, 0, 0, 0, 0, 0]\n',
    '================\n',
    'a\n\n\nb\n',
    'if (done) break;\n    break;\n',
    'x = 1  # one\ny = 2  # one more\n',
  ]) {
    assert.equal(repetitionStart(text, ''), -1, JSON.stringify(text));
  }
});

test('the bundled GPT\'s loops stop at the repetition (finishReason repetition), with the same tokens up to there', async () => {
  const engine = newEngine();
  for (const prompt of ['def __init__(self', 'function add(a: number, b: number) {\n  return a', '# Title\n\n']) {
    const looping = await engine.generate({ model: { source: 'gpt2-code' }, prompt, options: { strategy: 'greedy', maxNewTokens: 48 } });
    const stopped = await engine.generate({ model: { source: 'gpt2-code' }, prompt, options: { strategy: 'greedy', maxNewTokens: 48, stopOnRepetition: true } });
    assert.equal(stopped.finishReason, 'repetition', prompt);
    assert.ok(looping.text.startsWith(stopped.text), 'a prefix of the looping text');
    assert.ok(stopped.text.length < looping.text.length / 2, `${JSON.stringify(stopped.text)} is short`);
    assert.equal(repetitionStart(stopped.text, prompt.slice(prompt.lastIndexOf('\n') + 1)), -1, 'no repetition is left');
  }
});

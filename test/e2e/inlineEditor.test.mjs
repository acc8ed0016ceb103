// Inline completions in the editor (issue #17): the text after the cursor goes with the request and is not written
// twice, a burst of typing where the old model looped shows no looping ghost text, Alt+] cycles to an alternative,
// and snippets of another file go with the request. The bundled model may be retrained, so these check the
// structure of what is shown, not its words. The extension's debug log shows each request and its result.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { e2eSuite, e2eTest, Session } from './helpers/session.mjs';
import { openFile, cursorToEnd, activeEditor, waitUntil, screenshot } from './helpers/workbench.mjs';

/** Repeats the suggestion must not contain: a line (4+ characters) twice, or a stretch of words back to back. */
function loopIn(text, cursorLine, { lines: byLine = true } = {}) {
  const lines = byLine ? text.split('\n').map((l) => l.trim()) : [];
  const seen = new Set(cursorLine.trim().length >= 4 ? [cursorLine.trim()] : []);
  for (const line of lines) {
    if (line.length >= 4 && seen.has(line)) return `the line ${JSON.stringify(line)} twice`;
    if (line.length >= 4) seen.add(line);
  }
  const words = text.split(/\s+/).filter(Boolean);
  for (let period = 1; period <= 12; period++) {
    // One word must come three times in a row (`a a a`), a stretch of several twice.
    const times = period === 1 ? 3 : 2;
    for (let i = 0; i + period * times <= words.length; i++) {
      const stretch = words.slice(i, i + period);
      if (stretch.join('').replace(/[^\p{L}\p{N}]/gu, '').length < 2) continue;
      let same = true;
      for (let t = 1; t < times && same; t++) same = words.slice(i + t * period, i + (t + 1) * period).join(' ') === stretch.join(' ');
      if (same) return `the words ${JSON.stringify(stretch.join(' '))} ${times} times in a row`;
    }
  }
  return undefined;
}

e2eSuite('inline completions in the editor', () => {
  const s = new Session('inline-editor');
  // Suggestions shown whole (the confidence cut has its own test in inline.test.mjs); debug lines for the requests.
  before(() => s.start({ settings: { 'lmLens.inline.minConfidence': 0 }, logLevel: 'debug' }));
  after(() => s.stop());

  const ghost = () => activeEditor(s.page).locator('.ghost-text-decoration, .ghost-text-decoration-preview, .ghost-text');
  const ghostText = async () => (await ghost().allInnerTexts()).join('\n').replace(/\u00a0/g, ' ');
  /** Waits for ghost text, asking again (Alt+\) while there is none (a request superseded by typing shows nothing). */
  async function waitForGhost(message) {
    let text = '';
    let polls = 0;
    await waitUntil(
      async () => {
        if ((await ghost().count()) === 0) {
          // Not every poll: an explicit request also samples alternatives, and asking each second on a loaded
          // machine cancels each answer.
          if (polls++ % 5 === 4) await s.page.keyboard.press('Alt+\\').catch(() => {});
          return false;
        }
        text = await ghostText();
        return text.trim().length > 0;
      },
      { timeout: 90_000, interval: 1000, message },
    );
    return text;
  }
  /** Types lines as a person does (the editor's auto-indent removed so the indentation is exact). */
  async function typeLines(text, delay) {
    const lines = text.split('\n');
    for (const [i, line] of lines.entries()) {
      if (i > 0) await s.page.keyboard.press('Enter');
      await s.page.keyboard.press('Shift+Home');
      await s.page.keyboard.press('Delete').catch(() => {});
      await s.page.keyboard.type(line, { delay });
    }
  }
  const debugLines = (mark, what) => s.extensionLog().slice(mark).split('\n').filter((l) => l.includes(what));

  e2eTest(s, 'inside a line with text after it, the request carries that text and accepting the suggestion does not write it twice', async () => {
    const { page } = s;
    // The call's argument is missing: a fill-in-the-middle model fills `input` between `compute(` and `);`.
    const rest = ');';
    // A file with the line already written, so that no suggestion made at the end of the line stands when the cursor
    // goes inside it (the editor keeps such a suggestion, and asks for no other, while it stands).
    writeFileSync(
      join(s.workspace, 'compute.ts'),
      `// Compute a value from its input.\n\nexport function compute(input: number): number {\n  return input * 2;\n}\n\nexport function run(input: number): number {\n  const value = compute(${rest}\n  return value;\n}\n`,
    );
    await openFile(page, 'compute.ts');
    // Go to line 8, column 25: just after "  const value = compute(".
    await page.keyboard.press('Control+G');
    await page.locator('.quick-input-widget input').waitFor();
    await page.keyboard.type('8:25');
    await page.keyboard.press('Enter');
    const mark = s.logMark();
    let request = '';
    await waitUntil(
      async () => {
        request = debugLines(mark, 'Inline request at').at(-1) ?? '';
        if (request.includes(JSON.stringify(rest))) return true;
        // An edit at the cursor, as a user makes one (a space typed and taken back), asks for a suggestion there.
        await page.keyboard.press('Space');
        await page.keyboard.press('Backspace');
        return false;
      },
      { timeout: 60_000, interval: 2000, message: 'the debug line of a request with the rest of the line' },
    );
    assert.match(request, /\[debug\] Inline request at line 8, column 25: \d+ characters before the cursor, (\d+) after it \(the rest of the line: "\);"\)/);
    assert.ok(Number(/, (\d+) after it/.exec(request)[1]) > rest.length, 'the suffix reaches past the rest of the line');
    const suggestion = await waitForGhost('ghost text inside the line');
    await screenshot(page, 'inline-inside-line');
    assert.ok(!suggestion.trimEnd().endsWith(rest), `the suggestion ${JSON.stringify(suggestion)} does not end with the text after the cursor`);
    await page.keyboard.press('Tab');
    await waitUntil(async () => (await ghost().count()) === 0 || (await ghostText()) !== suggestion, { timeout: 10_000, message: 'the suggestion to be accepted' });
    const saved = await s.saveAndRead('compute.ts');
    const line = saved.split('\n')[7];
    assert.ok(line.startsWith('  const value = compute(') && line.endsWith(rest), `the rest of the line is still after the inserted text: ${JSON.stringify(line)}`);
    assert.equal(line.split(rest).length - 1, 1, `the rest of the line once, not twice: ${JSON.stringify(line)}`);
    const inserted = line.slice('  const value = compute('.length, line.length - rest.length);
    assert.ok(!inserted.endsWith(')'), `the inserted text ${JSON.stringify(inserted)} does not repeat the bracket after the cursor`);
    assert.ok(line.length > `  const value = compute(${rest}`.length, `the suggestion was inserted: ${JSON.stringify(line)}`);
    assert.equal(saved.split('\n').length, 11, 'one line inside a line: no line added');
  });

  for (const [file, burst] of [
    ['fibonacci.py', '\n\ndef factorial(n: int) -> int:\n    '],
    ['greeter.ts', '\n\nexport function add(a: number, b: number): number {\n  return a'],
  ]) {
    e2eTest(s, `a burst of typing in ${file} where the old model looped shows no ghost text with a repeated line or words`, async () => {
      const { page } = s;
      await openFile(page, file);
      await cursorToEnd(page);
      const mark = s.logMark();
      await typeLines(burst, 5);
      const cursorLine = burst.split('\n').at(-1);
      // The request for where the burst ended has answered (a result line for the last column).
      const column = cursorLine.length + 1;
      await waitUntil(
        async () => {
          const requests = debugLines(mark, 'Inline request at').filter((l) => l.includes(`, column ${column}:`));
          if (requests.length === 0) await page.keyboard.press('Alt+\\').catch(() => {});
          return requests.length > 0 && debugLines(s.extensionLog().indexOf(requests.at(-1)), 'Inline result:').length > 0;
        },
        { timeout: 90_000, interval: 1000, message: 'the result of the request where the burst ended' },
      );
      const result = debugLines(mark, 'Inline result:').at(-1);
      // Give the editor a moment to render what the provider returned, then judge whatever is shown.
      await page.waitForTimeout(1000);
      const shown = (await ghost().count()) > 0 ? await ghostText() : '';
      await screenshot(page, `inline-burst-${file.replace('.', '-')}`);
      // The editor renders a multi-line ghost text as token elements that are not in line order: judge its words;
      // its lines are judged in the provider's text below.
      assert.equal(loopIn(shown, cursorLine, { lines: false }), undefined, `ghost text ${JSON.stringify(shown)} (${result})`);
      // The raw result the provider got is judged too: the engine stopped it where it began to repeat.
      const raw = JSON.parse(/Inline result: ("(?:[^"\\]|\\.)*")/.exec(result)[1]);
      assert.equal(loopIn(raw, cursorLine), undefined, `the model's text ${JSON.stringify(raw)}`);
      await page.keyboard.press('Escape');
      await s.saveAndRead(file);
    });
  }

  e2eTest(s, 'Alt+] cycles to a different alternative', async () => {
    const { page } = s;
    await openFile(page, 'fibonacci.py');
    await cursorToEnd(page);
    await typeLines('\n\ndef count_words(text: str) -> int:\n    return ', 20);
    const first = await waitForGhost('a first suggestion');
    const mark = s.logMark();
    let next = first;
    await waitUntil(
      async () => {
        await page.keyboard.press('Alt+]');
        await page.waitForTimeout(500);
        next = (await ghost().count()) > 0 ? await ghostText() : '';
        return next.trim() !== '' && next !== first;
      },
      { timeout: 90_000, interval: 1000, message: `a different alternative than ${JSON.stringify(first)}` },
    );
    await screenshot(page, 'inline-alternative');
    const alternatives = debugLines(mark, 'Inline alternatives:').at(-1) ?? '';
    assert.match(alternatives, /Inline alternatives: [23] /, 'the greedy suggestion and sampled ones');
    assert.notEqual(next, first);
    // Alt+[ goes back to the first.
    await waitUntil(
      async () => {
        await page.keyboard.press('Alt+[');
        await page.waitForTimeout(300);
        return (await ghostText()) === first;
      },
      { timeout: 15_000, interval: 200, message: 'the first suggestion again' },
    );
    await page.keyboard.press('Escape');
  });

  e2eTest(s, 'a file the user worked in gives snippets to a request in another file of its language', async () => {
    const { page } = s;
    // greeter.ts was edited above; leaving it keeps the lines around its cursor. A new file of the same language:
    writeFileSync(join(s.workspace, 'shapes.ts'), '// Shapes.\n\nexport interface Square {\n  side: number;\n}\n');
    await openFile(page, 'greeter.ts');
    await page.keyboard.press('Control+Home');
    await openFile(page, 'shapes.ts');
    await cursorToEnd(page);
    const mark = s.logMark();
    await typeLines('\nexport function area(square: Square): number {\n  return ', 20);
    let result = '';
    await waitUntil(
      async () => {
        result = debugLines(mark, 'Inline result:').find((l) => /context \d+ tokens/.test(l)) ?? '';
        if (!result) await page.keyboard.press('Alt+\\').catch(() => {});
        return result !== '';
      },
      { timeout: 90_000, interval: 1000, message: 'a result that used the prompt context' },
    );
    assert.match(debugLines(mark, 'Inline request at').at(-1), /; [1-9]\d* snippets of other files offered within 256 tokens\./);
    assert.match(result, /context ([1-9]\d*) tokens \(comments, [1-9]\d* of [1-9]\d* snippets\)/, 'gpt2-code has no file separators: comments, and a snippet fitted');
    await page.keyboard.press('Escape');
  });
});

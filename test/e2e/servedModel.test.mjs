// A serving engine as the completion model, as a user sets it up: Pick Model → "Use a serving
// engine…", the API, the URL, an API key (kept in the editor's secret storage, not in settings),
// the model from the server's list; then Continue at Cursor writes the server's text into the
// editor and the token panel shows its numbers, saying which are the server's top N only. The
// server is test/servers/servingEngines.mjs's vLLM-style one on 127.0.0.1, computing with the bundled
// model through this project's engine.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { e2eSuite, e2eTest, Session } from './helpers/session.mjs';
import { answerInputBox, answerQuickPick, cursorToEnd, findFrame, openFile, runCommand, screenshot, waitForIdle, waitUntil } from './helpers/workbench.mjs';
import { sharedEngine, startOpenAiServer } from '../servers/servingEngines.mjs';

const API_KEY = 'e2e-served-key';

e2eSuite('served model', () => {
  const s = new Session('servedModel');
  let server;
  before(async () => {
    server = await startOpenAiServer({ apiKey: API_KEY });
    await s.start();
  });
  after(async () => {
    await s.stop();
    await server?.close();
  });

  e2eTest(s, 'Pick Model sets up a served model with its key; Continue writes the server\'s text; the token panel marks the top-N numbers', async () => {
    const { page } = s;
    const endpoint = `${server.url}/v1`;
    const title = page.locator('.quick-input-widget .quick-input-title');
    await runCommand(page, 'LM Lens: Pick Model…');
    await title.filter({ hasText: /Pick a model for/ }).waitFor({ timeout: 30_000 });
    await answerQuickPick(page, 'Completion');
    await title.filter({ hasText: /Model for completion/ }).waitFor({ timeout: 30_000 });
    await answerQuickPick(page, 'Use a serving engine');
    await title.filter({ hasText: /How is the server spoken to/ }).waitFor({ timeout: 30_000 });
    await answerQuickPick(page, 'OpenAI-compatible');
    await title.filter({ hasText: /URL of the OpenAI-compatible server/ }).waitFor({ timeout: 30_000 });
    await answerInputBox(page, endpoint);
    await title.filter({ hasText: /API key/ }).waitFor({ timeout: 30_000 });
    await answerInputBox(page, API_KEY);
    await title.filter({ hasText: new RegExp(`Models served at ${endpoint.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`) }).waitFor({ timeout: 30_000 });
    await screenshot(page, 'served-model-list');
    await answerQuickPick(page, 'gpt2-code');

    // Saved once the server answered for the model (its /v1/models, with the key).
    const source = `openai+${endpoint}#gpt2-code`;
    await waitUntil(() => JSON.parse(readFileSync(s.settingsFile, 'utf8'))['lmLens.models.completion'] === source, { timeout: 60_000, message: `lmLens.models.completion = ${source}` });
    const settingsText = readFileSync(s.settingsFile, 'utf8');
    assert.ok(!settingsText.includes(API_KEY), 'the key is not written to settings.json');
    assert.ok(server.requests.some((r) => r.path === '/v1/models' && r.headers.authorization === `Bearer ${API_KEY}`), 'the model list was asked for with the key');

    // Continue at Cursor: the server's text lands in the editor.
    const original = s.readFile('fibonacci.py');
    await openFile(page, 'fibonacci.py');
    await cursorToEnd(page);
    const mark = s.logMark();
    await runCommand(page, 'LM Lens: Continue at Cursor');
    await s.waitForEdit(mark);
    await waitForIdle(page);
    const edited = await s.saveAndRead('fibonacci.py');
    assert.ok(edited.startsWith(original), 'the original text is kept');
    const added = edited.slice(original.length);
    const request = server.requests.filter((r) => r.path === '/v1/completions').at(-1);
    assert.ok(request, 'a completion was asked of the server');
    assert.equal(request.headers.authorization, `Bearer ${API_KEY}`, 'with the key from secret storage');
    assert.equal(request.body.stream, true);
    // The same request run by the engine locally (the server's numbers are the engine's): the same text.
    const local = await (await sharedEngine()).generate({
      model: { source: 'gpt2-code' },
      prompt: request.body.prompt,
      options: { strategy: 'greedy', maxNewTokens: request.body.max_tokens, stopStrings: request.body.stop ?? [], stopOnRepetition: true, repetitionPenalty: 1 },
    });
    assert.ok(added.length > 0, 'text was added');
    assert.equal(added, local.text, 'the editor holds the server\'s text');

    // The token panel of the last generation: the served note and a token's numbers marked as top N.
    await runCommand(page, 'LM Lens: Inspect Token Probabilities');
    const frame = await findFrame(page, '#token-panel[data-state="ready"]', { timeout: 120_000 });
    const note = frame.locator('[data-testid=served-note]');
    await note.waitFor({ state: 'visible', timeout: 10_000 });
    assert.equal(await note.getAttribute('data-top-n'), String(request.body.logprobs), 'the top N the client asked the server for');
    assert.match(await note.innerText(), /exact numbers.*top \d+/);
    const tokens = frame.locator('[data-testid=main-sequence] [data-testid=token]');
    assert.equal(await tokens.count(), local.tokens.length, 'one element per served token');
    await tokens.nth(1).hover();
    const tooltip = frame.locator('[data-testid=token-tooltip]');
    await tooltip.waitFor({ state: 'visible', timeout: 10_000 });
    assert.match(await tooltip.innerText(), /≥ \d+\.\d+ nats \(from the top \d+\)/);
    const shownProb = await tooltip.locator('[data-testid=tooltip-prob]').innerText();
    assert.ok(shownProb.length > 0);
    await screenshot(page, 'served-model-token-panel');
  });
});

// The bundled transformer Seq2Seq does the tasks it ships for, through the engine with the decoding its
// config declares (as the extension's Translate and Summarize commands run it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newEngine } from '../helpers.mjs';

const engine = newEngine();
const bart = { source: 'bart-translate-summarize' };

test('the bundled BART translates "Open file" and "Save changes?" into German, French and Spanish', async () => {
  const expected = {
    de: ['Datei öffnen', 'Änderungen speichern?'],
    fr: ['Ouvrir le fichier', 'Enregistrer les modifications\u00a0?'],
    es: ['Abrir archivo', '¿Quiere guardar los cambios?'],
  };
  for (const [to, [open, save]] of Object.entries(expected)) {
    const a = await engine.generate({ model: bart, prompt: 'Open file', task: { kind: 'translate', to } });
    const b = await engine.generate({ model: bart, prompt: 'Save changes?', task: { kind: 'translate', to } });
    assert.deepEqual([a.text.trim(), b.text.trim()], [open, save], `English to ${to}`);
    assert.equal(a.finishReason, 'eos');
  }
});

test('the bundled BART summarizes a package description into one short line with beam search', async () => {
  const description =
    'ripgrep is a line-oriented search tool that recursively searches the current directory for a regex pattern. ' +
    'By default, ripgrep will respect gitignore rules and automatically skip hidden files/directories and binary files.';
  const r = await engine.generate({ model: bart, prompt: description, task: { kind: 'summarize' } });
  assert.equal(r.text.trim(), 'regexp search tool');
  assert.equal(r.finishReason, 'eos');
  assert.equal(r.sequences.length, 1, 'beam search (config.json: num_beams 8) returns its best sequence');
});

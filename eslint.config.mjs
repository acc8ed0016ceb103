import tseslint from 'typescript-eslint';

// Layers, top to bottom; a file imports only from the layers below its own (docs/architecture.md):
//   extension.ts, cli.ts                        entry points
//   commands/                                   one user action per file
//   webviews/, editor/, completion/             editor-facing services (panel hosts, highlighter, ghost text)
//   context.ts, statusBar.ts, config.ts         long-lived state and the one path to the engine
//   generation/, analysis/, catalog/, settings.ts  pure: no editor, unit-tested, shared with the webview scripts
//   inference/                                  the engine behind its protocol (worker thread, CLI)
const ENTRIES = ['extension', 'cli'];
const COMMANDS = ['commands'];
const SERVICES = ['webviews', 'editor', 'completion'];
const STATE = ['context', 'statusBar', 'config'];
const PURE = ['generation', 'analysis', 'catalog', 'settings'];

/** A restriction on imports whose path has one of `names` as a segment (`../commands/x`, `./context`). */
function layers(names, message) {
  return { regex: `(^|/)(${names.join('|')})(/|$)`, message };
}

const NO_VSCODE = { name: 'vscode', message: 'This layer runs outside the editor (unit tests, webviews, the worker, the CLI).' };

/** `no-restricted-imports` for `files`; `editor: false` also keeps out the `vscode` module. */
function restrict(files, { editor = true } = {}, ...patterns) {
  return { files, rules: { 'no-restricted-imports': ['error', { paths: editor ? [] : [NO_VSCODE], patterns }] } };
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tools/**', '.cache/**', 'models/**', 'test-results/**', 'out/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': 'off',
    },
  },
  restrict(
    ['src/commands/**/*.ts'],
    {},
    layers(ENTRIES, 'Commands are registered by extension.ts; they do not import it.'),
    { regex: '^\\./', message: 'A command does not import another command: move what they share below commands/ (editor/, generation/, analysis/).' },
  ),
  restrict(['src/webviews/**/*.ts'], {}, layers([...ENTRIES, ...COMMANDS, 'editor', 'completion'], 'Panel hosts sit below the commands and beside editor/ and completion/: move what they share below them.')),
  restrict(['src/editor/**/*.ts'], {}, layers([...ENTRIES, ...COMMANDS, 'webviews', 'completion'], 'editor/ sits below the commands and beside webviews/ and completion/: move what they share below them.')),
  restrict(['src/completion/**/*.ts'], {}, layers([...ENTRIES, ...COMMANDS, 'webviews', 'editor'], 'completion/ sits below the commands and beside webviews/ and editor/: move what they share below them.')),
  restrict(['src/context.ts', 'src/statusBar.ts', 'src/config.ts'], {}, layers([...ENTRIES, ...COMMANDS, ...SERVICES], 'The context is below the commands and services that use it.')),
  restrict(['src/generation/**/*.ts', 'src/analysis/**/*.ts', 'src/catalog/**/*.ts', 'src/settings.ts'], { editor: false }, layers([...ENTRIES, ...COMMANDS, ...SERVICES, ...STATE], 'Pure modules import only each other and the inference protocol.')),
  restrict(['src/inference/**/*.ts'], { editor: false }, layers([...ENTRIES, ...COMMANDS, ...SERVICES, ...STATE, ...PURE], 'src/inference is the bottom layer: it runs in a worker and in the CLI.')),
  restrict(
    ['src/inference/models/**/*.ts'],
    { editor: false },
    layers([...ENTRIES, ...COMMANDS, ...SERVICES, ...STATE, ...PURE], 'src/inference is the bottom layer: it runs in a worker and in the CLI.'),
    layers(['loading', 'decoding'], 'Model adapters sit below loading/ (which builds them) and decoding/ (which drives them): move shared types to models/.'),
  ),
  restrict(['src/cli.ts'], { editor: false }, layers([...COMMANDS, ...SERVICES, ...STATE], 'The CLI runs without the editor.')),
  restrict(
    ['media/**/*.ts'],
    { editor: false },
    layers([...ENTRIES, ...COMMANDS, 'editor', 'completion', 'generation', ...STATE], 'Webview scripts load only pure modules and the message types.'),
    { regex: '(^|/)webviews/(?!messages$|html$)', message: 'Webview scripts use only webviews/messages from the panel hosts.' },
    { regex: '(^|/)inference/(?!protocol$)', message: 'Webview scripts use only the protocol types from the engine.' },
  ),
);

/**
 * The comment a language writes a line in, by VS Code language id: the headers and snippets of the prompt context
 * are written as comments for a model without repository-level tokens. Pure, so it is unit-tested.
 */

export interface CommentSyntax {
  readonly open: string;
  /** For languages with only block comments (HTML, CSS). */
  readonly close?: string;
}

const HASH = ['python', 'shellscript', 'ruby', 'perl', 'r', 'yaml', 'toml', 'dockerfile', 'makefile', 'powershell', 'coffeescript', 'julia', 'elixir', 'nim', 'cmake', 'properties', 'graphql'];
const SLASHES = [
  'javascript', 'javascriptreact', 'typescript', 'typescriptreact', 'c', 'cpp', 'csharp', 'java', 'go', 'rust', 'swift', 'kotlin', 'scala',
  'dart', 'php', 'objective-c', 'objective-cpp', 'groovy', 'fsharp', 'jsonc', 'less', 'scss', 'zig', 'solidity', 'proto', 'vue', 'svelte',
];
const DASHES = ['sql', 'lua', 'haskell', 'elm', 'ada'];

const BY_LANGUAGE: ReadonlyMap<string, CommentSyntax> = new Map<string, CommentSyntax>([
  ...HASH.map((id): [string, CommentSyntax] => [id, { open: '#' }]),
  ...SLASHES.map((id): [string, CommentSyntax] => [id, { open: '//' }]),
  ...DASHES.map((id): [string, CommentSyntax] => [id, { open: '--' }]),
  ['html', { open: '<!--', close: '-->' }],
  ['xml', { open: '<!--', close: '-->' }],
  ['markdown', { open: '<!--', close: '-->' }],
  ['css', { open: '/*', close: '*/' }],
  ['latex', { open: '%' }],
  ['tex', { open: '%' }],
  ['matlab', { open: '%' }],
  ['erlang', { open: '%' }],
  ['clojure', { open: ';' }],
  ['lisp', { open: ';' }],
  ['scheme', { open: ';' }],
  ['ini', { open: ';' }],
  ['bat', { open: 'REM' }],
  ['vb', { open: "'" }],
]);

/** The language's line comment, or undefined for a language without one known here (plain text, JSON). */
export function commentSyntax(languageId: string): CommentSyntax | undefined {
  return BY_LANGUAGE.get(languageId);
}

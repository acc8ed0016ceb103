import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tools/**', '.cache/**', 'models/**', 'test-results/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': 'off',
    },
  },
  {
    files: ['src/inference/**/*.ts'],
    rules: {
      // The engine runs in a worker and in the CLI: it must never depend on the editor.
      'no-restricted-imports': ['error', { paths: [{ name: 'vscode', message: 'src/inference runs outside VS Code.' }] }],
    },
  },
);

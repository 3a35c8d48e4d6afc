// Lint rules, including the import direction from docs/architecture.md:
// apps -> libs; compress -> engine, profiles; profiles -> engine; engine and protocol -> nothing of ours.
// Every lib is imported through its barrel (`@edgecompress/<lib>`), never by a deep path.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const deepLibImport = {
  group: ['@edgecompress/*/*', '**/libs/**', '**/apps/**'],
  message: 'Import a lib through its barrel (@edgecompress/<lib>); libs never import apps.',
};
const testingOnlyInTests = {
  group: ['@edgecompress/testing'],
  message: 'libs/testing holds test harnesses: import it only from *.spec.ts and test/.',
};
const libsExcept = (...allowed) => ({
  group: ['@edgecompress/*', ...allowed.map((name) => `!@edgecompress/${name}`)],
  message: `This lib may import only: ${allowed.length ? allowed.join(', ') : 'nothing of ours'}.`,
});
const restrict = (...patterns) => ({
  'no-restricted-imports': ['error', { patterns }],
});

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      'data/**',
      'bench-results/**',
      'build/**',
      '.tmp/**',
      'coverage/**',
      '*.tmp.ts',
      '**/*.mjs',
      '**/*.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      eqeqeq: ['error', 'smart'],
    },
  },
  { files: ['apps/**/*.ts'], rules: restrict(deepLibImport, testingOnlyInTests) },
  { files: ['libs/engine/**/*.ts'], rules: restrict(deepLibImport, libsExcept()) },
  { files: ['libs/protocol/**/*.ts'], rules: restrict(deepLibImport, libsExcept()) },
  { files: ['libs/profiles/**/*.ts'], rules: restrict(deepLibImport, libsExcept('engine')) },
  {
    files: ['libs/compress/**/*.ts'],
    rules: restrict(deepLibImport, libsExcept('engine', 'profiles')),
  },
  { files: ['libs/testing/**/*.ts'], rules: restrict(deepLibImport) },
  {
    // Only the agent's connection layer talks MQTT.
    files: ['apps/agent/**/*.ts'],
    ignores: ['apps/agent/src/connection/**'],
    rules: restrict(deepLibImport, testingOnlyInTests, {
      group: ['mqtt', 'mqtt/*'],
      message: 'Only apps/agent/src/connection may import mqtt.',
    }),
  },
  {
    files: ['**/*.spec.ts', 'test/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
);

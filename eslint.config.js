// Lint rules. The one that matters most keeps src/core free of I/O, timers, wall-clock time and
// ambient randomness (DESIGN.md §2, STYLE.md habit 1): those reach the core only through its ports.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const coreBannedGlobals = [
  ['Date', 'time comes in through the Clock port'],
  ['performance', 'time comes in through the Clock port'],
  ['setTimeout', 'the core is driven by tick(now); timers live in the runtime'],
  ['setInterval', 'the core is driven by tick(now); timers live in the runtime'],
  ['setImmediate', 'the core is driven by tick(now); timers live in the runtime'],
  ['queueMicrotask', 'the core is driven by tick(now); timers live in the runtime'],
  ['requestAnimationFrame', 'no DOM in the core'],
  ['window', 'no DOM in the core'],
  ['document', 'no DOM in the core'],
  ['navigator', 'no browser APIs in the core'],
  ['localStorage', 'storage comes in through the Store port'],
  ['sessionStorage', 'storage comes in through the Store port'],
  ['indexedDB', 'storage comes in through the Store port'],
  ['fetch', 'no network in the core: use the Transport port'],
  ['WebSocket', 'no network in the core: use the Transport port'],
  ['RTCPeerConnection', 'no network in the core: use the Transport port'],
  ['crypto', 'randomness comes in through the Random port'],
  ['process', 'no Node.js APIs in the core'],
].map(([name, why]) => ({ name, message: `src/core is sans-I/O: ${why}.` }));

export default tseslint.config(
  { ignores: ['dist/**', 'dist-*/**', 'node_modules/**', 'test-results/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['scripts/**/*.mjs', 'eslint.config.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', URL: 'readonly' } },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', ...coreBannedGlobals],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'src/core is sans-I/O: randomness comes in through the Random port.' },
        { object: 'Date', property: 'now', message: 'src/core is sans-I/O: time comes in through the Clock port.' },
      ],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['peerjs', 'peer', 'idb', 'comlink', 'fake-indexeddb', 'ws', 'express'], message: 'src/core is sans-I/O: reach I/O through ports.' },
            { group: ['node:*', 'fs', 'path', 'os', 'net', 'http', 'crypto'], message: 'src/core is sans-I/O: no Node.js modules.' },
            { group: ['../net/*', '../storage/*', '../runtime/*', '../ui/*', '../signaling/*'], message: 'src/core depends on nothing above it (DESIGN.md §2).' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/ui/**/*.ts'],
    rules: {
      // The demo page is a user of the library like any other (STYLE.md habit 8): it reaches the store
      // through the package entry only.
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/core/*', '**/runtime/*', '**/net/*', '**/storage/*', '**/merkle/*', '**/security/*', '**/signaling/*', '**/server/*'],
              message: 'src/ui uses the public API: import it from src/index.ts.',
            },
          ],
        },
      ],
      'no-restricted-properties': [
        'error',
        { property: 'innerHTML', message: 'Render data as text (textContent), never as HTML.' },
        { property: 'outerHTML', message: 'Render data as text (textContent), never as HTML.' },
        { property: 'insertAdjacentHTML', message: 'Render data as text (textContent), never as HTML.' },
      ],
    },
  },
);

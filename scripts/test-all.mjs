#!/usr/bin/env node
// Runs every check and suite in order — typecheck, lint, unit/simulation/contract tests, the app and
// library builds, and the real-browser tests — and ends with one plain line, `N passed, N failed`,
// counting the tests of all suites together (a check that fails, such as lint, counts as one failure).
// Exits non-zero when anything failed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const results = path.join(root, 'test-results');
mkdirSync(results, { recursive: true });
const bin = (name) => path.join(root, 'node_modules', '.bin', name);

let passed = 0;
let failed = 0;
const lines = [];

function run(label, command, args) {
  console.log(`\n── ${label} ──`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: process.env });
  return result.status === 0;
}

function check(label, command, args) {
  const ok = run(label, command, args);
  lines.push(`${ok ? 'ok  ' : 'FAIL'} ${label}`);
  if (!ok) failed++;
  return ok;
}

function suite(project) {
  const report = path.join(results, `${project}.json`);
  const ok = run(`vitest: ${project}`, bin('vitest'), ['run', '--project', project, '--reporter=default', '--reporter=json', `--outputFile=${report}`]);
  if (!existsSync(report)) {
    lines.push(`FAIL ${project}: no report (vitest did not run)`);
    failed++;
    return;
  }
  const json = JSON.parse(readFileSync(report, 'utf8'));
  passed += json.numPassedTests;
  failed += json.numFailedTests;
  // A suite that failed to load, or whose hook failed (its tests then show as skipped), counts as a
  // failure even when none of its tests failed.
  const broken = json.testResults.filter((r) => r.status === 'failed' && !r.assertionResults.some((a) => a.status === 'failed')).length;
  failed += broken;
  lines.push(`${ok ? 'ok  ' : 'FAIL'} ${project}: ${json.numPassedTests} passed, ${json.numFailedTests + broken} failed, ${json.numPendingTests} skipped`);
  if (json.numTotalTests === 0) {
    lines.push(`FAIL ${project}: ran no test`);
    failed++;
  }
}

check('typecheck', bin('tsc'), ['--noEmit', '-p', 'tsconfig.json']);
check('lint', bin('eslint'), ['.']);
suite('unit');
const built = check('build', bin('vite'), ['build', '--logLevel', 'warn']);
// dist-lib/, which the e2e suite builds the example app (examples/minimal) against. When it fails, the
// example's tests fail as well; the other e2e tests still run.
check('build:lib', 'npm', ['run', '--silent', 'build:lib']);
if (built) suite('e2e');
else lines.push('FAIL e2e: not run (the build failed)');

console.log('\n' + lines.join('\n'));
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);

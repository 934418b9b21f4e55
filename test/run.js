#!/usr/bin/env node
// Runs the compiled suite with the summary reporter. --fail-zero: a run that finds no test fails.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const mocha = path.join(root, 'node_modules', 'mocha', 'bin', 'mocha.js');
const specs = process.argv.slice(2);
const args = [
  mocha,
  '--fail-zero',
  '--reporter', path.join(root, 'test', 'reporter.cjs'),
  '--timeout', '60000',
  '--exit',
  ...(specs.length > 0 ? specs : ['dist/test/**/*.test.js']),
];
const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);

#!/usr/bin/env node
// The compiled CLI lives in dist/; `npm start` and `npm test` build it first.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  console.error('keystone-ts is not built yet: run `npm run build` (npm start and npm test do it for you).');
  process.exit(1);
}
const { run } = await import(entry.href);
const status = await run(process.argv.slice(2));
// serve returns -1 and keeps the process alive with its server.
if (status >= 0) process.exitCode = status;

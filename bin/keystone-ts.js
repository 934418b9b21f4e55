#!/usr/bin/env node
// The compiled CLI lives in dist/; `npm start` and `npm test` build it first.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  console.error('keystone-ts is not built yet: run `npm run build` (npm start and npm test do it for you).');
  process.exit(1);
}
await import(entry.href);

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { projectPath } from '../../src/common/paths.js';

/** Debian's interpreter, which has python3-keystone; `python3` on PATH may be another one. */
export const KEYSTONE_PYTHON = '/usr/bin/python3';
const SCRIPT = projectPath('test', 'support', 'keystone_fernet.py');

export interface KeystoneRequest {
  command: 'create' | 'validate' | 'receipts' | 'rotate' | 'uuid' | 'fernet';
  config?: { key_repository?: string; auth_methods?: readonly string[]; default_domain_id?: string; max_active_keys?: number };
  items: unknown[];
}

/** Runs upstream Keystone's own code (test/support/keystone_fernet.py) on the items; one result per item. */
export function keystone<T>(request: KeystoneRequest): T[] {
  const run = spawnSync(KEYSTONE_PYTHON, [SCRIPT], { input: JSON.stringify(request), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (run.status !== 0) throw new Error(`keystone_fernet.py ${request.command} failed (${run.status}):\n${run.stderr}`);
  const results = (JSON.parse(run.stdout) as { results: T[] }).results;
  assert.equal(results.length, request.items.length);
  return results;
}

/**
 * Skips the calling suite when python3-keystone is not importable, except under CI=true, where
 * CI installed it and its absence is a failure.
 */
export function requireKeystonePython(ctx: Mocha.Context): void {
  const probe = spawnSync(KEYSTONE_PYTHON, ['-c', 'import keystone, keystone.token.token_formatters'], { encoding: 'utf8' });
  if (probe.status === 0) return;
  const reason = `python3-keystone is not importable by ${KEYSTONE_PYTHON}: ${(probe.error?.message ?? probe.stderr).trim()}`;
  if (process.env.CI === 'true') throw new Error(reason);
  console.warn(`      skipped: ${reason}`);
  ctx.skip();
}

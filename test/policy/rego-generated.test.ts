import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { projectPath } from '../../src/common/paths.js';
import { loadPolicyRules } from '../../src/policy/defaults.js';
import { generateRegoFiles, regoDirectory } from '../../src/policy/generate-rego.js';
import { OPA, requireOpa } from '../support/opa.js';

/**
 * policies/rego is generator output: it must be what the generator writes today. With the pinned
 * OPA CLI in .cache/bin (scripts/install-opa.sh) it must also pass `opa check --strict`,
 * `opa fmt -l` and `opa test`, and the committed policies/rego.wasm and bundle.tar.gz must be what
 * scripts/policy-build.sh builds from it. Without the CLI those are skipped with the reason,
 * except under CI=true once .ci/run installs it, where a skip would hide a stale policy.
 */
function opa(args: readonly string[]): string {
  return execFileSync(OPA, args, { cwd: projectPath(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('policy/rego generated policy', () => {
  it('policies/rego is what src/policy/generate-rego.ts writes (run node dist/src/policy/generate-rego.js)', () => {
    const expected = generateRegoFiles(loadPolicyRules());
    const dir = regoDirectory();
    const committed = readdirSync(dir).filter((f) => f.endsWith('.rego'));
    assert.deepEqual(committed.sort(), [...expected.keys()].sort());
    for (const [file, source] of expected) {
      assert.equal(readFileSync(path.join(dir, file), 'utf8'), source, `policies/rego/${file} is stale`);
    }
  });

  describe('with the OPA CLI', function () {
    this.timeout(120_000);
    before(function () {
      requireOpa(this, 'OPA CLI checks');
    });

    it('is pinned to policies/opa-version', () => {
      const pinned = readFileSync(projectPath('policies', 'opa-version'), 'utf8').trim();
      assert.match(opa(['version']), new RegExp(`^Version: ${pinned.replace(/^v/, '').replace(/\./g, '\\.')}$`, 'm'));
    });

    it('passes opa check --strict and opa fmt -l', () => {
      opa(['check', '--strict', 'policies/rego']);
      assert.equal(opa(['fmt', '-l', 'policies/rego']), '');
    });

    it('passes its opa test unit tests', () => {
      const out = opa(['test', 'policies/rego']);
      assert.match(out, /^PASS: (\d+)\/\1$/m);
    });

    it('policies/rego.wasm and policies/bundle.tar.gz are what scripts/policy-build.sh builds from policies/rego', () => {
      const out = mkdtempSync(path.join(tmpdir(), 'keystone-ts-rego-'));
      try {
        execFileSync('bash', [projectPath('scripts', 'policy-build.sh'), out], { cwd: projectPath(), stdio: ['ignore', 'pipe', 'pipe'] });
        // opa build is deterministic for one CLI version (the pin): same sources, same bytes.
        // opa build sets every tar entry's time to the epoch, so the bundle is reproducible too.
        for (const file of ['rego.wasm', 'bundle.tar.gz']) {
          const fresh = readFileSync(path.join(out, file));
          assert.ok(fresh.equals(readFileSync(projectPath('policies', file))), `policies/${file} is stale: run scripts/policy-build.sh`);
        }
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    });
  });
});

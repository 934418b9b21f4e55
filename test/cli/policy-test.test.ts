/**
 * `keystone-ts policy test DIR` as an operator's CI runs it: the compiled CLI in a child process,
 * on the shipped bundle (policies/), on the example operator bundle
 * (test/fixtures/policy-bundle-example/) and on broken copies of it.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { projectPath } from '../../src/common/paths.js';
import { describeResult, killChildren, runCli, tempDirs, type RunResult } from '../support/cli.js';
import { OPA, requireOpa } from '../support/opa.js';

const EXAMPLE = projectPath('test', 'fixtures', 'policy-bundle-example');

function assertExit(result: RunResult, code: number): void {
  assert.equal(result.code, code, describeResult(result));
}

function assertOutput(result: RunResult, ...parts: (string | RegExp)[]): void {
  for (const part of parts) {
    const found = typeof part === 'string' ? result.stdout.includes(part) : part.test(result.stdout);
    assert.ok(found, `${String(part)} in the output\n${describeResult(result)}`);
  }
}

describe('keystone-ts policy test', function () {
  this.timeout(180_000);
  const temps = tempDirs('kts-policy-test-');
  const withOpa = { OPA };
  const withoutOpa = { OPA: '/nonexistent/opa' };

  after(async () => {
    await killChildren();
    temps.cleanup();
  });

  /** A copy of the example bundle, changed by `edit` (relative path → new content from old). */
  function brokenExample(edits: Record<string, (text: string) => string>): string {
    const dir = path.join(temps.make(), 'bundle');
    cpSync(EXAMPLE, dir, { recursive: true });
    for (const [file, edit] of Object.entries(edits)) {
      const full = path.join(dir, file);
      const before = readFileSync(full, 'utf8');
      const after = edit(before);
      assert.notEqual(after, before, `the edit of ${file} changed nothing`);
      writeFileSync(full, after);
    }
    return dir;
  }

  it('passes on the shipped bundle, policies/', async function () {
    const result = await runCli(['policy', 'test', 'policies'], { env: existsSync(OPA) ? withOpa : withoutOpa, timeoutMs: 170_000 });
    assertExit(result, 0);
    assertOutput(result, /cases: \d{4,} in policies\/cases/, /rego: \d+ decisions over \d+ cases, 0 failed/, /cedar: \d+ decisions over \d+ cases, 0 failed/);
    assertOutput(result, ...(existsSync(OPA) ? [/opa test policies\/rego: PASS: \d+\/\d+/, /^OK$/m] : [/skipped/]));
    assert.ok(!result.stdout.includes('warning'), `policies/rego.wasm is what policies/rego builds to\n${result.stdout}`);
  });

  it('passes on the example operator bundle, every step run', async function () {
    requireOpa(this, 'opa test of the example bundle');
    const result = await runCli(['policy', 'test', EXAMPLE], { env: withOpa });
    assertExit(result, 0);
    assertOutput(result, /opa test .*rego: PASS: 4\/4/, 'rego: 41 decisions over 11 cases, 0 failed', 'cedar: 2 policy files validate', 'cedar: 41 decisions over 11 cases, 0 failed', /^OK$/m);
  });

  it('fails on a wrong expectation, naming the case, rule, settings, expected, got and violations', async () => {
    const dir = brokenExample({
      'cases/users.json': (text) => text.replace(/("label": "a domain manager may not delete users[^"]*",\n.*\n\s*"allow": )false/, '$1true'),
    });
    const result = await runCli(['policy', 'test', '--engine', 'cedar', dir]);
    assertExit(result, 1);
    assertOutput(
      result,
      'FAIL [cedar] users.json #8 "a domain manager may not delete users (Keystone\'s default allows it)"',
      'rule:       identity:delete_user',
      'settings:   enforce_scope=true,enforce_new_defaults=true',
      'settings:   enforce_scope=false,enforce_new_defaults=false',
      'expected:   allow',
      'got:        deny',
      'violations: credentials.scope: domain-scoped tokens are not allowed; identity:delete_user accepts system',
      'cedar: 41 decisions over 11 cases, 4 failed',
      'FAILED: 4 problems',
    );
    assert.ok(!result.stdout.includes('[rego]'), '--engine cedar runs no Rego');
  });

  it('fails on a wrong expectation with the Rego engine too', async function () {
    requireOpa(this, 'building the example Rego');
    const dir = brokenExample({ 'cases/users.json': (text) => text.replace('"label": "a system reader lists users",\n     "input": {"credentials": {"scope": "system", "roles": ["reader"]}},\n     "allow": true', '"label": "a system reader lists users",\n     "input": {"credentials": {"scope": "system", "roles": ["reader"]}},\n     "allow": false') });
    const result = await runCli(['policy', 'test', '--engine', 'rego', dir], { env: withOpa });
    assertExit(result, 1);
    assertOutput(result, 'FAIL [rego] users.json #6 "a system reader lists users"', 'rule:       identity:list_users', 'expected:   deny', 'got:        allow', 'rego: 41 decisions over 11 cases, 4 failed');
  });

  it('fails when opa test fails, with its output', async function () {
    requireOpa(this, 'opa test');
    const dir = brokenExample({ 'rego/keystone_test.rego': (text) => text.replace('test_domain_manager_may_not_delete_users if {\n\tnot data', 'test_domain_manager_may_not_delete_users if {\n\tdata') });
    const result = await runCli(['policy', 'test', '--engine', 'rego', dir], { env: withOpa });
    assertExit(result, 1);
    assertOutput(result, /FAIL \[opa test\]/, 'test_domain_manager_may_not_delete_users', /opa test .*: FAILED/, 'rego: 41 decisions over 11 cases, 0 failed');
  });

  it('fails when the Cedar policies do not validate against the schema, naming the policy', async () => {
    const dir = brokenExample({ 'cedar/users.cedar': (text) => text.replace('principal.user_id == context.target["target.user.id"]', 'principal.user_name == context.target["target.user.id"]') });
    const result = await runCli(['policy', 'test', '--engine', 'cedar', dir]);
    assertExit(result, 1);
    assertOutput(result, 'FAIL [cedar validation]', 'identity:get_user/self', 'cedar: FAILED: the policies do not validate against keystone.cedarschema');
  });

  it('fails on a malformed case file, naming the file and case', async () => {
    const dir = brokenExample({ 'cases/users.json': (text) => text.replace('"scope": "system", "roles": ["admin"]}, "path"', '"scope": "galaxy", "roles": ["admin"]}, "path"') });
    const result = await runCli(['policy', 'test', '--engine', 'cedar', dir]);
    assertExit(result, 1);
    assertOutput(result, /FAIL \[cases\] users\.json case 7: input\.credentials\.scope must be one of system, domain, project/);
  });

  it('without the OPA CLI: says opa test was skipped and runs the cases on the committed rego.wasm', async () => {
    const result = await runCli(['policy', 'test', '--engine', 'rego', 'policies'], { env: withoutOpa, timeoutMs: 120_000 });
    assertExit(result, 0);
    assertOutput(result, 'opa test policies/rego: skipped: OPA CLI not found', 'cases run on policies/rego.wasm as committed', /rego: \d+ decisions over \d+ cases, 0 failed/, 'OK, with 1 step skipped');
  });

  it('without the OPA CLI and without rego.wasm: skips the Rego cases, and --require-opa fails', async () => {
    const skipped = await runCli(['policy', 'test', '--engine', 'rego', EXAMPLE], { env: withoutOpa });
    assertExit(skipped, 0);
    assertOutput(skipped, 'rego: cases skipped: no OPA CLI', 'OK, with 2 steps skipped');
    const required = await runCli(['policy', 'test', '--engine', 'rego', '--require-opa', EXAMPLE], { env: withoutOpa });
    assertExit(required, 1);
    assertOutput(required, '--require-opa was given');
  });

  it('answers usage errors with status 2 and the help', async () => {
    const dir = temps.make();
    for (const args of [['policy', 'test'], ['policy', 'test', '--engine', 'opa', EXAMPLE], ['policy', 'test', path.join(dir, 'missing')], ['policy', 'test', dir]]) {
      const result = await runCli(args);
      assertExit(result, 2);
      assert.match(result.stderr, /Usage: keystone-ts policy load/);
    }
    const help = await runCli(['policy', '--help']);
    assertExit(help, 0);
    assert.match(help.stdout, /policy test \[--engine rego\|cedar\|both\]/);
  });
});

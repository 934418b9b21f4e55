import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Credentials, createOsloEngine, type PolicyEngine, type PolicyInput, type PolicyRule } from '../../src/policy/pdp.js';
import { credentialsFor } from '../../src/policy/policy-cases.js';
import { compileRego, regoArea, REGO_DECISION_ENTRYPOINT } from '../../src/policy/rego-compile.js';
import { createRegoEngine } from '../../src/policy/rego-engine.js';
import { OPA, requireOpa } from '../support/opa.js';

/**
 * oslo.policy's quirks, one rule each, compiled to Rego and built with the pinned OPA CLI, then
 * decided by both engines: the default rules do not use every quirk, operators' rules may.
 * Needs .cache/bin/opa (scripts/install-opa.sh): see requireOpa for when it is skipped.
 */
const QUIRKS: Record<string, string> = {
  role_upper: 'role:ADMIN',
  role_templated: 'role:%(target.role.name)s',
  literal_quoted: "'manager':%(target.role.name)s",
  literal_none: 'None:%(target.project.domain_id)s',
  literal_true: 'True:%(target.flag)s',
  literal_false: 'False:%(target.flag)s',
  literal_number: '1:%(target.count)s',
  literal_constant: "'x':x",
  not_missing: 'not user_id:%(target.missing)s',
  missing_target: 'user_id:%(target.missing)s',
  none_equals_none: 'project_id:%(target.project.id)s',
  bool_credential: 'is_admin_project:True',
  list_credential: 'methods:password',
  nested_list_credential: 'token.roles.name:%(target.role.name)s',
  deep_credential: 'token.project.domain.id:%(target.project.domain_id)s',
  missing_credential: 'is_admin:1',
  template_with_text: 'user_id:u-%(target.suffix)s',
  two_templates: 'user_id:%(target.a)s-%(target.b)s',
  path_variable: 'user_id:%(user_id)s',
  request_body: 'user_id:%(request_body.user.id)s',
  filter_attr: 'domain_id:%(filter_attr.domain_id)s',
  number_target: "'2':%(target.count)s",
  always: '@',
  never: '!',
  empty: '',
  not_always: 'not @',
  nested: '(role:reader or role:member) and not (role:admin and system_scope:all) or rule:never',
  double_not: 'not not role:admin',
  refers: 'rule:nested or rule:template_with_text',
  cross_area: 'rule:identity:get_thing',
  'identity:get_thing': 'role:manager and domain_id:%(target.domain.id)s',
  'identity:scoped': 'role:reader',
  'identity:deprecated': 'role:admin',
};

/** Quirks whose outcome does not depend on the input (missing keys, constants). */
const CONSTANT_OUTCOME = new Set(['always', 'never', 'empty', 'not_always', 'literal_constant', 'missing_credential', 'list_credential', 'missing_target', 'not_missing']);

const RULES: PolicyRule[] = Object.entries(QUIRKS).map(([name, check_str]) => ({ name, check_str }));
for (const rule of RULES) {
  if (rule.name === 'identity:scoped') Object.assign(rule, { scope_types: ['system'] });
  if (rule.name === 'identity:deprecated') Object.assign(rule, { deprecated: 'role:reader or not @', scope_types: ['project', 'domain'] });
}

function creds(scope: 'system' | 'domain' | 'project', roles: string[], extra: Record<string, unknown> = {}): Credentials {
  return { ...credentialsFor(scope, roles), ...extra } as Credentials;
}

const TOKEN = { roles: [{ name: 'a' }, { name: 'Manager' }], project: { domain: { id: 'd-own' } } };
const INPUTS: PolicyInput[] = [];
for (const scope of ['system', 'domain', 'project'] as const) {
  for (const roles of [[], ['admin'], ['Admin', 'reader'], ['manager'], ['member', 'reader']]) {
    const c = creds(scope, roles);
    INPUTS.push({ credentials: c });
    INPUTS.push({ credentials: creds(scope, roles, { token: TOKEN, is_admin_project: true, methods: ['token', 'password'] }), target: {} });
    for (const target of [
      { role: { name: 'manager' }, project: { id: null, domain_id: null }, flag: true, count: 1, suffix: 'own', a: 'u', b: 'own' },
      { role: { name: 'Manager' }, project: { id: 'p-own', domain_id: 'd-own' }, flag: false, count: 2, suffix: 'x', domain: { id: 'd-own' } },
      { role: { name: 'a' }, project: 'flat', flag: 'True', count: '1', domain: { id: 'd-foreign' } },
    ]) {
      INPUTS.push({ credentials: c, target });
      INPUTS.push({ credentials: creds(scope, roles, { token: TOKEN }), target, path: { user_id: 'u-own' } });
    }
    INPUTS.push({ credentials: c, path: { user_id: 'u-own' }, request_body: { user: { id: 'u-own' } }, filter_attr: { domain_id: c.domain_id } });
    INPUTS.push({ credentials: c, path: { user_id: 'someone' }, request_body: 'flat', filter_attr: { domain_id: 'd-foreign' } });
  }
}

describe('policy/rego-compile: oslo quirks decided alike by Rego and oslo', function () {
  this.timeout(120_000);
  const dir = mkdtempSync(path.join(tmpdir(), 'keystone-ts-rego-quirks-'));
  let wasm: Buffer;

  before(function () {
    requireOpa(this, 'Rego quirk tests');
    for (const module of compileRego(RULES)) writeFileSync(path.join(dir, module.file), module.source);
    execFileSync(OPA, ['check', '--strict', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    execFileSync(OPA, ['build', '-t', 'wasm', '-e', REGO_DECISION_ENTRYPOINT, dir, '-o', path.join(dir, 'bundle.tar.gz')], { stdio: ['ignore', 'pipe', 'pipe'] });
    wasm = execFileSync('tar', ['-xzOPf', path.join(dir, 'bundle.tar.gz'), '/policy.wasm'], { maxBuffer: 64 << 20 });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('puts identity rules in their area and shared rules in common', () => {
    assert.equal(regoArea('identity:get_user'), 'users');
    assert.equal(regoArea('identity:list_roles_for_trust'), 'trusts');
    assert.equal(regoArea('identity:list_endpoints_for_project'), 'project_endpoints');
    assert.equal(regoArea('identity:create_grant'), 'grants');
    assert.equal(regoArea('admin_or_owner'), 'common');
  });

  it('refuses rules that refer to each other in a cycle (Rego forbids recursion)', () => {
    assert.throws(
      () => compileRego([{ name: 'a', check_str: 'rule:b' }, { name: 'b', check_str: 'role:x or rule:a' }]),
      /cycle: a → b → a/,
    );
  });

  for (const settings of [
    { enforceScope: true, enforceNewDefaults: true },
    { enforceScope: true, enforceNewDefaults: false },
    { enforceScope: false, enforceNewDefaults: false },
  ]) {
    it(`agrees on every quirk (enforce_scope=${settings.enforceScope} enforce_new_defaults=${settings.enforceNewDefaults})`, async () => {
      const rego: PolicyEngine = await createRegoEngine({ wasm, ...settings });
      const oslo = createOsloEngine({ defaults: RULES, ...settings });
      const disagreements: string[] = [];
      const outcomes = new Map<string, Set<boolean>>();
      for (const rule of RULES) {
        for (const input of INPUTS) {
          const expected = oslo.decide(rule.name, input);
          const actual = rego.decide(rule.name, input);
          outcomes.set(rule.name, (outcomes.get(rule.name) ?? new Set()).add(expected.allow));
          if (expected.allow !== actual.allow || JSON.stringify(expected.violations) !== JSON.stringify(actual.violations)) {
            disagreements.push(`${rule.name} ${JSON.stringify(input)}: oslo ${expected.allow} ${JSON.stringify(expected.violations)} rego ${actual.allow} ${JSON.stringify(actual.violations)}`);
          }
        }
      }
      assert.deepEqual(disagreements.slice(0, 5), [], `${disagreements.length} disagreements`);
      // Every rule that can go both ways does, so the inputs exercise each quirk.
      const oneSided = [...outcomes].filter(([name, seen]) => seen.size < 2 && !CONSTANT_OUTCOME.has(name));
      assert.deepEqual(oneSided.map(([name]) => name), []);
    });
  }
});

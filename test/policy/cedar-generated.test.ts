import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { projectPath } from '../../src/common/paths.js';
import { areaOf, cedarString, CedarCompileError, compileCedar } from '../../src/policy/cedar-compile.js';
import { CedarPolicyError, createCedarEngine, loadCedarBundle } from '../../src/policy/cedar-engine.js';
import { loadPolicyRules } from '../../src/policy/defaults.js';
import type { PolicyEngine } from '../../src/policy/pdp.js';

const dir = projectPath('policies', 'cedar');

describe('policy/cedar generated bundle', () => {
  const compiled = compileCedar(loadPolicyRules());
  // Creating an engine validates ~450 policies (a few seconds), so the tests share one.
  let engine: PolicyEngine;
  before(() => {
    engine = createCedarEngine({ ...loadCedarBundle(), enforceScope: true, enforceNewDefaults: true, validateRequests: true });
  });

  it('policies/cedar is what the generator writes (run node dist/src/policy/cedar-generate.js)', () => {
    const committed = readdirSync(dir).filter((name) => name.endsWith('.cedar')).sort();
    assert.deepEqual(committed, [...compiled.policyFiles.keys()].sort());
    for (const [name, text] of compiled.policyFiles) {
      assert.equal(readFileSync(path.join(dir, name), 'utf8'), text, `${name} is stale`);
    }
    assert.equal(readFileSync(path.join(dir, 'keystone.cedarschema'), 'utf8'), compiled.schema, 'keystone.cedarschema is stale');
  });

  it('validates against its schema in strict mode, with one action per Keystone rule', () => {
    assert.ok(engine);
    for (const rule of loadPolicyRules()) assert.ok(compiled.schema.includes(`action ${cedarString(rule.name)}`), rule.name);
  });

  it('puts every identity rule in a named area', () => {
    const other = loadPolicyRules().filter((rule) => areaOf(rule.name) === 'other');
    assert.deepEqual(other.map((rule) => rule.name), []);
  });

  it('refuses policies that do not match the schema, naming the policy', () => {
    const { schema } = loadCedarBundle();
    const policies = '@id("bad")\npermit (principal, action == Action::"identity:get_user", resource) when { principal.nope == "x" };';
    assert.throws(
      () => createCedarEngine({ policies, schema, enforceScope: true, enforceNewDefaults: true }),
      (error: unknown) => error instanceof CedarPolicyError && /bad/.test(error.message) && /nope/.test(error.message),
    );
    assert.throws(
      () => createCedarEngine({ policies: 'permit (principal, action, resource) when {', schema, enforceScope: true, enforceNewDefaults: true }),
      CedarPolicyError,
    );
  });

  it('refuses rule cycles, unknown rules and matches Cedar cannot express', () => {
    const cases: [string, string][] = [
      ['rule:b', 'rule cycle a → b → a'],
      ['rule:missing', 'unknown rule'],
      ['user_id:x%(user_id)s', 'mixing text'],
      ['role:%(target.role.name)s', 'case-insensitive'],
    ];
    for (const [check, message] of cases) {
      assert.throws(
        () => compileCedar([{ name: 'a', check_str: check }, { name: 'b', check_str: 'rule:a' }]),
        (error: unknown) => error instanceof CedarCompileError && error.message.includes(message),
        check,
      );
    }
  });

  it('names a scope violation and an unknown action', () => {
    const credentials = {
      user_id: 'u', user_domain_id: 'd', project_id: null, project_domain_id: null, domain_id: 'd', system_scope: null,
      roles: ['admin'], role_ids: [], methods: ['password'], audit_ids: [], is_admin_project: false, trust_id: null,
      app_cred_id: null, identity_provider_id: null, protocol_id: null, service_user_id: null, service_roles: [],
    } as const;
    const scoped = engine.decide('identity:create_trust', { credentials });
    assert.equal(scoped.allow, false);
    assert.deepEqual(scoped.violations, [
      { field: 'credentials.scope', message: 'domain-scoped tokens are not allowed; identity:create_trust accepts project' },
    ]);
    const unknown = engine.decide('identity:nothing', { credentials });
    assert.deepEqual(unknown.violations.map((v) => v.field), ['action']);
    assert.notEqual(engine.decide('identity:get_user', { credentials }).decisionId, unknown.decisionId);
  });
});

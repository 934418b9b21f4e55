import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { projectPath } from '../../src/common/paths.js';
import { areaOf, cedarString, CedarCompileError, compileCedar } from '../../src/policy/cedar-compile.js';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { compactPolicySet } from '../../src/policy/cedar-compact.js';
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

  for (const validateRequests of [true, false]) {
    it(`names a scope violation and an unknown action (${validateRequests ? 'requests validated' : 'compact requests'})`, () => {
      const subject = validateRequests ? engine : createCedarEngine({ ...loadCedarBundle(), enforceScope: true, enforceNewDefaults: true });
      const credentials = {
        user_id: 'u', user_domain_id: 'd', project_id: null, project_domain_id: null, domain_id: 'd', system_scope: null,
        roles: ['admin'], role_ids: [], methods: ['password'], audit_ids: [], is_admin_project: false, trust_id: null,
        app_cred_id: null, identity_provider_id: null, protocol_id: null, service_user_id: null, service_roles: [], attributes: {},
      } as const;
      const scoped = subject.decide('identity:create_trust', { credentials });
      assert.equal(scoped.allow, false);
      assert.deepEqual(scoped.violations, [
        { field: 'credentials.scope', message: 'domain-scoped tokens are not allowed; identity:create_trust accepts project' },
      ]);
      const unknown = subject.decide('identity:nothing', { credentials });
      assert.deepEqual(unknown.violations.map((v) => v.field), ['action']);
      assert.notEqual(subject.decide('identity:get_user', { credentials }).decisionId, unknown.decisionId);
    });
  }
});

describe('policy/cedar engine on hand-written policies', () => {
  const { schema } = loadCedarBundle();
  // Some of these need the entities (the principal or action compared whole, `action in` a
  // group in a condition), so the engine must send them for those actions and may compact the rest.
  const policies = `
@id("by-uid") permit (principal, action == Action::"identity:get_user", resource) when { principal == User::"u-special" };
@id("group-in-body") permit (principal, action == Action::"identity:get_domain", resource)
  when { action in Action::"scope_types:system,domain,project" && principal.roles.contains("reader") };
@id("record-literal") permit (principal, action == Action::"identity:get_project", resource)
  when { {"Value": principal.user_id, "has": context.target}.Value == "u1" };
@id("compact") permit (principal, action == Action::"identity:list_projects", resource)
  when { principal.roles.contains("reader") && context.target has "target.domain_id" && principal has domain_id
         && principal.domain_id == context.target["target.domain_id"] && context.enforce_new_defaults };
@id("scope") forbid (principal, action in Action::"scope_types:system,domain,project", resource)
  when { context.enforce_scope } unless { principal.scope == "project" || principal.scope == "domain" };`;
  const credentials = (user_id: string, roles: string[], scope: { project_id?: string; domain_id?: string; system_scope?: 'all' }) => ({
    user_id, user_domain_id: 'd', project_id: scope.project_id ?? null, project_domain_id: scope.project_id ? 'd' : null,
    domain_id: scope.domain_id ?? null, system_scope: scope.system_scope ?? null, roles, role_ids: [], methods: ['password'],
    audit_ids: [], is_admin_project: false, trust_id: null, app_cred_id: null, identity_provider_id: null, protocol_id: null,
    service_user_id: null, service_roles: [], attributes: {},
  });
  const cases: [string, ReturnType<typeof credentials>, Record<string, unknown>, boolean][] = [
    ['identity:get_user', credentials('u-special', [], { project_id: 'p' }), {}, true],
    ['identity:get_user', credentials('u-other', ['admin'], { project_id: 'p' }), {}, false],
    ['identity:get_user', credentials('u-special', [], { system_scope: 'all' }), {}, false],
    ['identity:get_domain', credentials('u1', ['reader'], { project_id: 'p' }), {}, true],
    ['identity:get_domain', credentials('u1', ['member'], { project_id: 'p' }), {}, false],
    ['identity:get_project', credentials('u1', [], { domain_id: 'd' }), {}, true],
    ['identity:get_project', credentials('u2', [], { domain_id: 'd' }), {}, false],
    ['identity:list_projects', credentials('u1', ['Reader'], { domain_id: 'd' }), { domain_id: 'd' }, true],
    ['identity:list_projects', credentials('u1', ['reader'], { domain_id: 'd' }), { domain_id: 'e' }, false],
    ['identity:list_projects', credentials('u1', ['reader'], { domain_id: 'd' }), {}, false],
    ['identity:list_projects', credentials('u1', ['reader'], { system_scope: 'all' }), { domain_id: 'd' }, false],
  ];
  for (const validateRequests of [true, false]) {
    it(`decides as written (${validateRequests ? 'requests validated' : 'compact where possible'})`, () => {
      const subject = createCedarEngine({ policies, schema, enforceScope: true, enforceNewDefaults: true, validateRequests });
      const got = cases.map(([action, creds, target]) => subject.decide(action, { credentials: creds, target }).allow);
      assert.deepEqual(got, cases.map(([, , , allow]) => allow));
    });
  }
  it('folds the configuration switches into compact policies', () => {
    const oldDefaults = createCedarEngine({ policies, schema, enforceScope: false, enforceNewDefaults: false });
    const reader = credentials('u1', ['reader'], { system_scope: 'all', domain_id: 'd' });
    assert.equal(oldDefaults.decide('identity:list_projects', { credentials: reader, target: { domain_id: 'd' } }).allow, false);
    // enforce_scope off lifts the scope forbid, so the by-uid permit holds for a system token too.
    assert.equal(oldDefaults.decide('identity:get_user', { credentials: credentials('u-special', [], { system_scope: 'all' }) }).allow, true);
  });
});

describe('policy/cedar compact policy sets', () => {
  const parts = cedar.policySetTextToParts(loadCedarBundle().policies);
  assert.equal(parts.type, 'success');
  const policies = (parts.type === 'success' ? parts.policies : []).map((text) => {
    const json = cedar.policyToJson(text);
    assert.equal(json.type, 'success');
    return json.type === 'success' ? json.json : (undefined as never);
  });
  const sets = new Set(['roles', 'role_ids', 'methods', 'audit_ids', 'service_roles']);
  const of = (action: string) => policies.filter((p) => p.action.op === '==' && 'entity' in p.action && 'id' in p.action.entity && p.action.entity.id === action).map((p) => [String(p.annotations?.['id']), p] as const);

  it('takes every default policy (so no action falls back to the entity-carrying request)', () => {
    assert.ok(policies.length > 300, String(policies.length));
    assert.notEqual(compactPolicySet(policies.map((p, i) => [String(i), p] as const), 'identity:get_project', { enforce_scope: true, enforce_new_defaults: true }, sets), undefined);
  });

  it('drops what the switches turn off, and sends only what the rest reads', () => {
    const current = compactPolicySet(of('identity:list_user_projects'), 'identity:list_user_projects', { enforce_scope: true, enforce_new_defaults: true }, sets)!;
    assert.deepEqual(Object.keys(current.policies).sort(), ['identity:list_user_projects/1', 'identity:list_user_projects/2', 'identity:list_user_projects/3', 'identity:list_user_projects/4']);
    assert.deepEqual([...current.targetKeys].sort(), ['target.user.domain_id', 'target.user.id']);
    assert.deepEqual([...current.attributes].sort(), ['domain_id', 'roles', 'system_scope', 'user_id']);
    assert.deepEqual([...current.setFilters.get('roles')!].sort(), ['admin', 'reader']);
    const deprecated = compactPolicySet(of('identity:list_user_projects'), 'identity:list_user_projects', { enforce_scope: true, enforce_new_defaults: false }, sets)!;
    assert.ok(Object.keys(deprecated.policies).includes('identity:list_user_projects/deprecated/1'));
    assert.ok(deprecated.targetKeys.includes('user_id'));
    // No policy clause is left testing a switch.
    assert.doesNotMatch(JSON.stringify(deprecated.policies), /enforce_/);
  });
});

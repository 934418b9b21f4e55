import assert from 'node:assert/strict';
import { loadPolicyRules } from '../../src/policy/defaults.js';
import { applyOverrides, buildPolicyEngine, type PolicyEngineKind } from '../../src/policy/engines.js';
import { PolicySyntaxError } from '../../src/policy/oslo.js';
import { createOsloEngine, type PolicyEngine, type PolicyRule } from '../../src/policy/pdp.js';
import { casesForRule } from '../../src/policy/policy-cases.js';
import { compileRegoOverrides, MAX_OVERRIDE_CLAUSES } from '../../src/policy/rego-overrides.js';

/**
 * Operator policy files compiled onto Rego (as data) and Cedar (recompiled) must decide as the
 * oslo reference engine evaluates the same file, on every action the file changes, with cases
 * generated from the overridden check strings themselves.
 */
const FILES: Record<string, Record<string, string>> = {
  'tightened action': { 'identity:get_project': 'role:admin' },
  'base rule redefined (reaches every rule using it)': { admin_required: 'role:admin or role:cloud_admin' },
  'alias rule and composite check': {
    cloud_admin: 'role:admin and system_scope:all',
    'identity:list_users': 'rule:cloud_admin or (role:reader and domain_id:%(target.domain_id)s)',
  },
  'negations over missing keys': {
    'identity:get_user': 'not role:guest and (user_id:%(target.user.id)s or rule:admin_required)',
    'identity:update_user': 'not (role:member and not user_id:%(target.user.id)s)',
  },
  'constants and empty': { 'identity:create_user': '!', 'identity:list_projects': '@', 'identity:get_domain': '' },
  'literal left and templates': {
    'identity:update_project': 'True:%(target.project.enabled)s and role:member',
    'identity:get_region': "'RegionOne':%(target.region.id)s or user_id:%(target.region.parent_region_id)s",
  },
  'deep credential path and service roles': {
    'identity:get_project': 'token.project.domain.id:%(target.project.domain_id)s and (role:reader or service_roles:service)',
  },
};

const SETTINGS = [
  { enforceScope: true, enforceNewDefaults: true },
  { enforceScope: false, enforceNewDefaults: false },
] as const;

/** Actions whose outcome a file can change: the overridden ones and everything referring to them. */
function changedActions(rules: readonly PolicyRule[], overrides: Record<string, string>): string[] {
  return Object.keys(compileRegoOverrides(rules, overrides, false));
}

describe('policy/overrides: an oslo policy file compiled onto every engine', () => {
  const rules = loadPolicyRules();

  for (const [title, overrides] of Object.entries(FILES)) {
    for (const settings of SETTINGS) {
      it(`${title}: Rego and Cedar decide as oslo (enforce_scope=${settings.enforceScope}, enforce_new_defaults=${settings.enforceNewDefaults})`, async function () {
        this.timeout(60_000);
        const engines = new Map<PolicyEngineKind, PolicyEngine>();
        for (const kind of ['oslo', 'rego', 'cedar'] as const) engines.set(kind, await buildPolicyEngine({ kind, rules, overrides, ...settings }));
        const effective = applyOverrides(rules, overrides);
        const actions = changedActions(rules, overrides);
        assert.ok(actions.length >= Object.keys(overrides).filter((n) => n.includes(':')).length);
        const disagreements: string[] = [];
        let compared = 0;
        let allowed = 0;
        for (const action of actions) {
          for (const c of casesForRule(action, effective)) {
            const expected = engines.get('oslo')!.decide(action, c.input);
            compared += 1;
            if (expected.allow) allowed += 1;
            for (const kind of ['rego', 'cedar'] as const) {
              const actual = engines.get(kind)!.decide(action, c.input);
              if (actual.allow !== expected.allow) disagreements.push(`${kind} ${action} ${c.label}: expected ${expected.allow}, got ${JSON.stringify(actual)}`);
              // Rego words its violations exactly as the reference does, overrides included.
              if (kind === 'rego' && JSON.stringify(actual.violations) !== JSON.stringify(expected.violations)) {
                disagreements.push(`rego ${action} ${c.label}: violations ${JSON.stringify(actual.violations)} vs ${JSON.stringify(expected.violations)}`);
              }
            }
          }
        }
        assert.deepEqual(disagreements.slice(0, 10), [], `${disagreements.length} disagreements in ${compared} cases`);
        assert.ok(compared > 0);
        // A file of constants may allow everything or nothing; the others must show both outcomes.
        if (!title.startsWith('constants')) assert.ok(allowed > 0 && allowed < compared, `${allowed} of ${compared} allowed`);
      });
    }
  }

  it('changes the decision an unmodified engine gives (the override is really in force)', async () => {
    const [c] = casesForRule('identity:get_project', rules).filter((x) => x.label === 'project[reader] own');
    assert.ok(c);
    for (const kind of ['oslo', 'rego', 'cedar'] as const) {
      const plain = await buildPolicyEngine({ kind, rules, overrides: {}, enforceScope: true, enforceNewDefaults: true });
      const tight = await buildPolicyEngine({ kind, rules, overrides: { 'identity:get_project': 'role:admin' }, enforceScope: true, enforceNewDefaults: true });
      assert.equal(plain.decide('identity:get_project', c.input).allow, true, kind);
      const denied = tight.decide('identity:get_project', c.input);
      assert.equal(denied.allow, false, kind);
      if (kind !== 'cedar') assert.deepEqual(denied.violations, [{ field: 'credentials', message: 'identity:get_project requires role:admin' }]);
    }
  });

  it('refuses, on every engine, unknown action names, bad syntax, dangling references and cycles', async () => {
    const bad: Record<string, string>[] = [
      { 'identity:get_usr': 'role:admin' },
      { 'identity:get_user': 'role:admin or or' },
      { 'identity:get_user': 'rule:no_such_rule' },
      { a: 'rule:b', b: 'rule:a', 'identity:get_user': 'rule:a' },
    ];
    for (const overrides of bad) {
      for (const kind of ['oslo', 'rego', 'cedar'] as const) {
        await assert.rejects(buildPolicyEngine({ kind, rules, overrides, enforceScope: true, enforceNewDefaults: true }), /policy rule|cedar|cycle/, `${kind} ${JSON.stringify(overrides)}`);
      }
    }
  });

  it('Rego takes a match mixing text and target values; Cedar, which cannot express it, refuses the file by name', async () => {
    const overrides = { 'identity:get_region': 'user_id:%(target.region.id)s-%(target.region.parent_region_id)s' };
    const [c] = casesForRule('identity:get_region', rules);
    assert.ok(c);
    const input = { ...c.input, target: { region: { id: 'u', parent_region_id: 'own' } }, credentials: { ...c.input.credentials, user_id: 'u-own' } };
    for (const kind of ['oslo', 'rego'] as const) {
      const engine = await buildPolicyEngine({ kind, rules, overrides, enforceScope: false, enforceNewDefaults: true });
      assert.equal(engine.decide('identity:get_region', input).allow, true, kind);
      assert.equal(engine.decide('identity:get_region', { ...input, target: { region: { id: 'u', parent_region_id: 'x' } } }).allow, false, kind);
    }
    await assert.rejects(buildPolicyEngine({ kind: 'cedar', rules, overrides, enforceScope: false, enforceNewDefaults: true }), /identity:get_region.*mixing text/);
  });

  it('treats a target object as a missing key, as Keystone flattens targets to their leaves', async () => {
    // A caller whose user_id is exactly what rendering the object would give: only the
    // missing-key reading denies.
    const [own] = casesForRule('identity:get_user', rules).filter((c) => c.label === 'project[] own');
    assert.ok(own);
    const input = { ...own.input, target: { user: { id: 'u-own' } }, credentials: { ...own.input.credentials, user_id: '{"id":"u-own"}' } };
    for (const kind of ['oslo', 'rego', 'cedar'] as const) {
      const objectKey = await buildPolicyEngine({ kind, rules, overrides: { 'identity:get_user': 'user_id:%(target.user)s' }, enforceScope: false, enforceNewDefaults: true });
      assert.equal(objectKey.decide('identity:get_user', input).allow, false, kind);
      const negated = await buildPolicyEngine({ kind, rules, overrides: { 'identity:get_user': 'not user_id:%(target.user)s' }, enforceScope: false, enforceNewDefaults: true });
      assert.equal(negated.decide('identity:get_user', input).allow, true, kind);
    }
  });

  it('refuses a check that expands past the clause limit instead of slowing every decision', () => {
    // (a1 or b1) and (a2 or b2) and ... : 2^13 alternatives.
    const source = Array.from({ length: 13 }, (_, i) => `(role:a${i} or role:b${i})`).join(' and ');
    assert.ok(2 ** 13 > MAX_OVERRIDE_CLAUSES);
    assert.throws(() => compileRegoOverrides(rules, { 'identity:get_user': source }, true), PolicySyntaxError);
  });

  it('compiles only what the file changes', () => {
    const compiled = compileRegoOverrides(rules, { 'identity:get_project': 'role:admin' }, true);
    assert.deepEqual(Object.keys(compiled), ['identity:get_project']);
    assert.deepEqual(compiled['identity:get_project']!.clauses, [[{ kind: 'role', match: ['admin'] }]]);
    const wide = compileRegoOverrides(rules, { admin_required: 'role:admin or role:cloud_admin' }, true);
    const usesAdmin = rules.filter((r) => r.check_str.includes('rule:admin_required')).map((r) => r.name);
    for (const name of usesAdmin) assert.ok(name in wide, name);
    // Sanity: the reference engine agrees the base rule reaches those actions.
    const oslo = createOsloEngine({ defaults: rules, overrides: { admin_required: '!' }, enforceScope: false, enforceNewDefaults: true });
    assert.ok(oslo);
  });
});

import assert from 'node:assert/strict';
import { loadPolicyRules } from '../../src/policy/defaults.js';
import { createOsloEngine, type PolicyEngine } from '../../src/policy/pdp.js';
import { casesForRule } from '../../src/policy/policy-cases.js';
import { createRegoEngine, readDefaultRegoWasm } from '../../src/policy/rego-engine.js';

/**
 * The committed policies/rego.wasm against the oslo reference engine: every default rule, on
 * cases generated from its own check string (role sets × scopes × own/foreign/missing targets),
 * under each [oslo_policy] setting. Allow and violations must be identical.
 */
const SETTINGS = [
  { enforceScope: true, enforceNewDefaults: true },
  { enforceScope: true, enforceNewDefaults: false },
  { enforceScope: false, enforceNewDefaults: true },
  { enforceScope: false, enforceNewDefaults: false },
] as const;

describe('policy/rego engine agrees with the oslo reference engine', () => {
  const rules = loadPolicyRules();
  const wasm = readDefaultRegoWasm();
  const cases = new Map(rules.map((rule) => [rule.name, casesForRule(rule.name, rules)]));

  for (const settings of SETTINGS) {
    describe(`enforce_scope=${settings.enforceScope} enforce_new_defaults=${settings.enforceNewDefaults}`, () => {
      let rego: PolicyEngine;
      let oslo: PolicyEngine;
      before(async () => {
        rego = await createRegoEngine({ wasm, ...settings });
        oslo = createOsloEngine({ defaults: rules, ...settings });
      });

      const total = [...cases.values()].reduce((n, list) => n + list.length, 0);
      it(`decides ${total} cases over all ${rules.length} default rules as oslo does`, () => {
        let compared = 0;
        let allowed = 0;
        const disagreements: string[] = [];
        for (const rule of rules) {
          for (const c of cases.get(rule.name)!) {
            const expected = oslo.decide(rule.name, c.input);
            const actual = rego.decide(rule.name, c.input);
            compared += 1;
            if (expected.allow) allowed += 1;
            if (expected.allow !== actual.allow || JSON.stringify(expected.violations) !== JSON.stringify(actual.violations)) {
              disagreements.push(`${rule.name} ${c.label}: oslo ${JSON.stringify(expected)} rego ${JSON.stringify(actual)}`);
            }
          }
        }
        assert.deepEqual(disagreements.slice(0, 10), [], `${disagreements.length} of ${compared} cases disagree`);
        // The cases must exercise both outcomes, or agreement would prove little.
        assert.ok(allowed > compared / 10 && allowed < compared * 0.9, `${allowed} of ${compared} allowed`);
      });
    });
  }

  it('denies an unknown action with the same violation as oslo', async () => {
    const rego = await createRegoEngine({ wasm, enforceScope: true, enforceNewDefaults: true });
    const oslo = createOsloEngine({ defaults: rules, enforceScope: true, enforceNewDefaults: true });
    const input = casesForRule('identity:get_user', rules)[0]!.input;
    const expected = oslo.decide('identity:no_such_rule', input);
    const actual = rego.decide('identity:no_such_rule', input);
    assert.equal(actual.allow, false);
    assert.deepEqual(actual.violations, expected.violations);
  });

  it('gives every decision its own id', async () => {
    const rego = await createRegoEngine({ wasm, enforceScope: true, enforceNewDefaults: true });
    const input = casesForRule('identity:get_user', rules)[0]!.input;
    const ids = new Set([1, 2, 3].map(() => rego.decide('identity:get_user', input).decisionId));
    assert.equal(ids.size, 3);
  });
});

import assert from 'node:assert/strict';
import { createCedarEngine, loadCedarBundle } from '../../src/policy/cedar-engine.js';
import { ALL_SETTINGS, formatFailure, loadCaseDirectory, runCases, settingName } from '../../src/policy/decision-cases.js';
import { loadPolicyRules } from '../../src/policy/defaults.js';
import { createOsloEngine, type PolicyEngine } from '../../src/policy/pdp.js';
import { createRegoEngine, readDefaultRegoWasm } from '../../src/policy/rego-engine.js';
import { projectPath } from '../../src/common/paths.js';

/**
 * Restricted tokens on every engine (policies/restriction-cases): the default policies refuse
 * what a token's restriction does not allow, for every action, and say which limit refused it.
 */
const rules = loadPolicyRules();
const cases = loadCaseDirectory(projectPath('policies', 'restriction-cases'));

describe('policy/restricted tokens: every engine enforces the restriction', function () {
  this.timeout(120_000);

  const engines: readonly [string, (settings: (typeof ALL_SETTINGS)[number]) => Promise<PolicyEngine>][] = [
    ['oslo', async (settings) => createOsloEngine({ defaults: rules, ...settings })],
    ['rego', (settings) => createRegoEngine({ wasm: readDefaultRegoWasm(), ...settings })],
    ['cedar', async (settings) => createCedarEngine({ ...loadCedarBundle(), ...settings })],
    ['cedar (requests validated)', async (settings) => createCedarEngine({ ...loadCedarBundle(), ...settings, validateRequests: true })],
  ];

  it('cover both outcomes for actions and source ranges', () => {
    const allowed = cases.filter((c) => c.expected.get(settingName(ALL_SETTINGS[0]!)) === true).length;
    assert.ok(allowed >= 5 && cases.length - allowed >= 5, `${allowed} of ${cases.length} allowed`);
  });

  for (const [name, create] of engines) {
    for (const settings of ALL_SETTINGS) {
      it(`${name}: ${settingName(settings)}`, async () => {
        const result = runCases(name, await create(settings), settings, cases);
        assert.equal(result.decisions, cases.length);
        assert.deepEqual(result.failures.map(formatFailure), []);
      });
    }

    it(`${name}: the violation names the limit and the restriction`, async () => {
      const engine = await create(ALL_SETTINGS[0]!);
      const byLabel = (label: string) => cases.find((c) => c.label === label)!;
      const actions = engine.decide('identity:get_project', byLabel('actions name only other actions').input);
      assert.deepEqual(actions.violations, [{ field: 'credentials.restriction.actions', message: 'token restriction r-1 does not allow identity:get_project' }]);
      const source = engine.decide('identity:get_project', byLabel('source outside an IPv4 range').input);
      assert.deepEqual(source.violations, [{ field: 'credentials.restriction.source_cidrs', message: 'token restriction r-1 does not allow requests from 192.168.0.1' }]);
      // A limit that holds leaves the rule's own verdict and violations.
      const denied = engine.decide('identity:get_project', byLabel('a restriction never grants: foreign project').input);
      assert.equal(denied.allow, false);
      assert.ok(denied.violations.every((v) => !v.field.startsWith('credentials.restriction')), JSON.stringify(denied.violations));
    });
  }
});

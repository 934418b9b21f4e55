import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { projectPath } from '../../src/common/paths.js';
import { createCedarEngine, loadCedarBundle } from '../../src/policy/cedar-engine.js';
import {
  ALL_SETTINGS,
  CaseFormatError,
  type DecisionCase,
  formatFailure,
  loadCaseDirectory,
  parseCaseFile,
  runCases,
  settingName,
} from '../../src/policy/decision-cases.js';
import { loadPolicyRules } from '../../src/policy/defaults.js';
import { buildCaseFiles, casesDirectory, pythonOracle } from '../../src/policy/generate-cases.js';
import { createOsloEngine, type PolicyEngine } from '../../src/policy/pdp.js';
import { credentialsFor } from '../../src/policy/policy-cases.js';
import { createRegoEngine, readDefaultRegoWasm } from '../../src/policy/rego-engine.js';
import { requireKeystonePython } from '../support/keystone-python.js';

/**
 * policies/cases/*.json hold real oslo.policy's answers (test/support/oslo_policy_oracle.py) for
 * every default rule × role set × token scope × own/foreign/None/missing target, under the four
 * [oslo_policy] settings. Every engine must give exactly those answers.
 */
const rules = loadPolicyRules();

describe('policy/decision cases: every engine answers as oslo.policy does', function () {
  this.timeout(120_000);
  const cases = loadCaseDirectory(casesDirectory());

  it('cover every rule of the shipped bundles, under every setting, with both outcomes', () => {
    const actions = new Set(cases.map((c) => c.action));
    assert.deepEqual(rules.map((r) => r.name).filter((name) => !actions.has(name)), []);
    for (const settings of ALL_SETTINGS) {
      const expected = cases.map((c) => c.expected.get(settingName(settings)));
      assert.ok(expected.every((e) => e !== undefined), `every case expects something under ${settingName(settings)}`);
      const allowed = expected.filter((e) => e === true).length;
      // Agreement on cases that are nearly all allowed, or all denied, would prove little.
      assert.ok(allowed > cases.length / 10 && allowed < cases.length * 0.9, `${allowed} of ${cases.length} allowed`);
    }
  });

  const engines: readonly [string, (settings: (typeof ALL_SETTINGS)[number]) => Promise<PolicyEngine>][] = [
    ['oslo', async (settings) => createOsloEngine({ defaults: rules, ...settings })],
    ['rego', (settings) => createRegoEngine({ wasm: readDefaultRegoWasm(), ...settings })],
    ['cedar', async (settings) => createCedarEngine({ ...loadCedarBundle(), ...settings })],
  ];
  it('cedar with every request validated against the schema (the token record included)', () => {
    const settings = ALL_SETTINGS[0]!;
    const engine = createCedarEngine({ ...loadCedarBundle(), ...settings, validateRequests: true });
    const result = runCases('cedar', engine, settings, cases);
    assert.deepEqual(result.failures.slice(0, 3).map(formatFailure), []);
  });
  for (const [name, create] of engines) {
    for (const settings of ALL_SETTINGS) {
      it(`${name}: ${settingName(settings)}`, async () => {
        const result = runCases(name, await create(settings), settings, cases);
        assert.equal(result.decisions, cases.length);
        const report = result.failures.slice(0, 5).map(formatFailure).join('\n');
        assert.equal(result.failures.length, 0, `${result.failures.length} of ${result.decisions} cases decided otherwise than oslo.policy:\n${report}`);
      });
    }
  }
});

describe('policy/decision cases: the committed files are what oslo.policy answers today', function () {
  this.timeout(180_000);
  before(function () {
    requireKeystonePython(this);
  });

  it('the oracle is real oslo.policy: scope, deprecated rules and targets decide', () => {
    const oracle = pythonOracle(rules);
    const user = (scope: 'system' | 'domain' | 'project', roles: string[], target: Record<string, unknown>) => ({
      action: 'identity:get_user',
      input: { credentials: credentialsFor(scope, roles), path: { user_id: 'u-other' }, target },
    });
    const cases = [
      user('system', ['reader'], { user: { id: 'u-other', domain_id: 'd-other' } }), // system reader
      user('project', ['member'], { user: { id: 'u-other', domain_id: 'd-other' } }), // someone else's user
      user('project', ['member'], { user: { id: 'u-own', domain_id: 'd-own' } }), // oneself
      user('domain', ['reader'], { user: { id: 'u-other', domain_id: 'd-own' } }), // domain reader, token.domain.id
      { action: 'identity:list_services', input: { credentials: credentialsFor('domain', ['admin']) } }, // scope_types system, project
      { action: 'identity:get_user', input: { credentials: credentialsFor('project', []), path: { user_id: 'u-own' }, target: { user: { id: 'u-other' } } } }, // deprecated admin_or_owner
    ];
    const answers = (enforceScope: boolean, enforceNewDefaults: boolean) => oracle({ enforceScope, enforceNewDefaults }, cases).allow;
    assert.deepEqual(answers(true, true), [true, false, true, true, false, false]);
    assert.deepEqual(answers(false, true), [true, false, true, true, true, false]);
    assert.deepEqual(answers(true, false), [true, false, true, true, false, true]);
    assert.match(oracle(ALL_SETTINGS[0]!, []).version, /^\d+\.\d+/);
  });

  it('regenerating policies/cases gives the committed files (npm run policy:cases)', () => {
    const files = buildCaseFiles(rules, pythonOracle(rules));
    const dir = casesDirectory();
    const committed = readdirSync(dir).filter((name) => name.endsWith('.json')).sort();
    assert.deepEqual(committed, [...files.keys()].sort(), 'the set of case files');
    const stale = [...files].filter(([name, text]) => readFileSync(path.join(dir, name), 'utf8') !== text).map(([name]) => name);
    assert.deepEqual(stale, [], 'stale case files: run npm run policy:cases');
  });
});

describe('policy/decision cases: the file format', () => {
  const file = (cases: unknown[]) => JSON.stringify({ cases });
  const engine = createOsloEngine({ defaults: rules, enforceScope: true, enforceNewDefaults: true });

  it('expands the {scope, roles} shorthand and lets other members replace generated ones', () => {
    const [c] = parseCaseFile(
      file([{ action: 'identity:get_user', input: { credentials: { scope: 'domain', roles: ['reader'], domain_id: 'd-9' } }, allow: false }]),
      'x.json',
    );
    assert.deepEqual(c!.input.credentials, { ...credentialsFor('domain', ['reader']), domain_id: 'd-9' });
    assert.equal(c!.label, 'case 1');
    assert.equal(c!.expected.size, 4);
  });

  it('checks only the settings a case names', () => {
    const cases = parseCaseFile(
      file([
        {
          action: 'identity:list_services',
          label: 'domain admin',
          input: { credentials: { scope: 'domain', roles: ['admin'] } },
          allow: { 'enforce_scope=true,enforce_new_defaults=true': false, 'enforce_scope=false,enforce_new_defaults=true': true },
        },
      ]),
      'x.json',
    );
    const scoped = runCases('oslo', engine, ALL_SETTINGS[0]!, cases);
    assert.deepEqual([scoped.decisions, scoped.failures.length], [1, 0]);
    const unscoped = createOsloEngine({ defaults: rules, enforceScope: false, enforceNewDefaults: true });
    assert.deepEqual(runCases('oslo', unscoped, ALL_SETTINGS[2]!, cases).failures, []);
    assert.equal(runCases('oslo', engine, ALL_SETTINGS[1]!, cases).decisions, 0);
  });

  it('reports a wrong expectation with the case, rule, settings, expected, got and violations', () => {
    const cases: DecisionCase[] = parseCaseFile(
      file([{ action: 'identity:list_services', label: 'reader may list', input: { credentials: { scope: 'system', roles: ['member'] } }, allow: true }]),
      'catalog.json',
    );
    const result = runCases('oslo', engine, ALL_SETTINGS[0]!, cases);
    assert.equal(result.failures.length, 1);
    const text = formatFailure(result.failures[0]!);
    for (const part of ['catalog.json #1', '"reader may list"', 'identity:list_services', 'enforce_scope=true,enforce_new_defaults=true', 'expected:   allow', 'got:        deny', 'identity:list_services requires']) {
      assert.ok(text.includes(part), `${part} in\n${text}`);
    }
  });

  it('refuses malformed files with the file and case named', () => {
    const bad: [string, RegExp][] = [
      ['{', /x\.json: not JSON/],
      ['{"rules": []}', /"cases" list/],
      [file([{ input: { credentials: { scope: 'project', roles: [] } }, allow: true }]), /x\.json case 1: "action"/],
      [file([{ action: 'a:b', input: { credentials: { scope: 'galaxy', roles: [] } }, allow: true }]), /scope must be one of/],
      [file([{ action: 'a:b', input: { credentials: { user_id: 'u' } }, allow: true }]), /needs "user_id" and "roles"/],
      [file([{ action: 'a:b', input: { credentials: { scope: 'project', roles: [] } }, allow: 'yes' }]), /"allow" must be/],
      [file([{ action: 'a:b', input: { credentials: { scope: 'project', roles: [] } }, allow: { enforce_scope: true } }]), /unknown setting/],
    ];
    for (const [text, message] of bad) assert.throws(() => parseCaseFile(text, 'x.json'), (e: unknown) => e instanceof CaseFormatError && message.test(e.message));
  });

  it('the committed files parse with the loader the CLI uses', () => {
    assert.ok(loadCaseDirectory(projectPath('policies', 'cases')).length > 1000);
  });
});

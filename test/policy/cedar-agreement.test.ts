import assert from 'node:assert/strict';
import { createCedarEngine, loadCedarBundle } from '../../src/policy/cedar-engine.js';
import { loadPolicyRules } from '../../src/policy/defaults.js';
import { type Check, parseCheck } from '../../src/policy/oslo.js';
import { createOsloEngine, type Credentials, type PolicyInput, type PolicyRule } from '../../src/policy/pdp.js';
import { seededRandom } from '../support/random.js';

/**
 * The Cedar engine must decide as the oslo reference does, rule by rule: generated cases cross
 * role sets, token scopes and targets built from the keys each rule references (own values,
 * foreign values, None, and missing keys), under enforce_scope with new defaults on and off.
 */

const rules = loadPolicyRules();
const byName = new Map(rules.map((rule) => [rule.name, rule]));

/** Target keys a rule reads, through `rule:` references and its deprecated alternative. */
function referencedKeys(rule: PolicyRule, into = new Set<string>(), seen = new Set<string>()): Set<string> {
  if (seen.has(rule.name)) return into;
  seen.add(rule.name);
  const walk = (check: Check): void => {
    switch (check.kind) {
      case 'not':
        walk(check.check);
        break;
      case 'and':
      case 'or':
        check.checks.forEach(walk);
        break;
      case 'rule': {
        const referenced = byName.get(check.name);
        if (referenced) referencedKeys(referenced, into, seen);
        break;
      }
      case 'role':
      case 'generic':
        for (const [, key] of check.match.matchAll(/%\(([^)]+)\)s/g)) into.add(key!);
        break;
      default:
        break;
    }
  };
  walk(parseCheck(rule.check_str));
  if (rule.deprecated !== undefined) walk(parseCheck(rule.deprecated));
  return into;
}

const base: Credentials = {
  user_id: 'u-1', user_domain_id: 'd-1', project_id: null, project_domain_id: null, domain_id: null, system_scope: null,
  roles: [], role_ids: [], methods: ['password'], audit_ids: ['a'], is_admin_project: false, trust_id: null,
  app_cred_id: null, identity_provider_id: null, protocol_id: null, service_user_id: null, service_roles: [], attributes: {},
};

const scopes: readonly Partial<Credentials>[] = [
  { system_scope: 'all' },
  { domain_id: 'd-1' },
  { project_id: 'p-1', project_domain_id: 'd-1' },
  { project_id: 'p-2', project_domain_id: 'd-2' },
  {}, // unscoped: counts as project
];

const roleSets: readonly (readonly string[])[] = [
  [],
  ['reader'],
  ['member', 'reader'],
  ['Manager', 'member', 'reader'],
  ['admin', 'manager', 'member', 'reader'],
  ['service'],
  ['ADMIN'],
];

const credentials: Credentials[] = scopes.flatMap((scope) => roleSets.map((roles) => ({ ...base, ...scope, roles })));

/** Values a key takes: the credentials' own ids, a foreign one, None, and the key missing. */
const MISSING = Symbol('missing');
type Value = string | null | typeof MISSING;
const values: readonly Value[] = ['u-1', 'd-1', 'p-1', 'other', null, MISSING, 'manager'];

function inputFor(creds: Credentials, assignment: ReadonlyMap<string, Value>): PolicyInput {
  const path: Record<string, string> = {};
  const target: Record<string, unknown> = {};
  const body: Record<string, unknown> = {};
  const filter: Record<string, unknown> = {};
  for (const [key, value] of assignment) {
    if (value === MISSING) continue;
    const [head, ...rest] = key.split('.');
    const root = head === 'target' ? target : head === 'request_body' ? body : head === 'filter_attr' ? filter : undefined;
    if (!root) {
      if (value !== null) path[key] = value; // path variables are strings
      continue;
    }
    let node = root;
    for (const part of rest.slice(0, -1)) {
      const next = node[part];
      node = (next !== null && typeof next === 'object' ? next : (node[part] = {})) as Record<string, unknown>;
    }
    node[rest[rest.length - 1]!] = value;
  }
  return { credentials: creds, path, target, request_body: body, filter_attr: filter };
}

function seedOf(name: string): number {
  return [...name].reduce((h, c) => Math.imul(h, 31) + c.charCodeAt(0), 7);
}

function targetsFor(rule: PolicyRule): Map<string, Value>[] {
  const keys = [...referencedKeys(rule)].sort();
  if (keys.length === 0) return [new Map()];
  // Every key the same value, then random mixes of own, foreign, None and missing.
  const uniform = values.map((value) => new Map<string, Value>(keys.map((key) => [key, value])));
  const next = seededRandom(seedOf(rule.name));
  const mixed = Array.from({ length: 4 }, () => new Map<string, Value>(keys.map((key) => [key, values[Math.floor(next() * values.length)]!])));
  return [...uniform, ...mixed];
}

function show(input: PolicyInput): string {
  const { credentials: c, ...rest } = input;
  const scope = c.system_scope ? 'system' : c.domain_id ? `domain ${c.domain_id}` : c.project_id ? `project ${c.project_id}` : 'unscoped';
  return `${scope} roles=[${c.roles.join(',')}] ${JSON.stringify(rest)}`;
}

describe('policy/cedar agrees with the oslo reference on every default rule', function () {
  this.timeout(60_000);
  const bundle = loadCedarBundle();

  for (const enforceNewDefaults of [true, false]) {
    it(`enforce_scope=true, enforce_new_defaults=${enforceNewDefaults}`, () => {
      const oslo = createOsloEngine({ defaults: rules, enforceScope: true, enforceNewDefaults });
      const cedar = createCedarEngine({ ...bundle, enforceScope: true, enforceNewDefaults });
      let decisions = 0;
      let allowed = 0;
      for (const rule of rules) {
        const pick = seededRandom(seedOf(rule.name) + 1);
        for (const [index, assignment] of targetsFor(rule).entries()) {
          // Own ids (the first three targets) meet every credential; the rest a random third,
          // which keeps the run within the suite's time budget.
          for (const creds of index < 3 ? credentials : credentials.filter(() => pick() < 1 / 3)) {
            const input = inputFor(creds, assignment);
            const expected = oslo.decide(rule.name, input).allow;
            const actual = cedar.decide(rule.name, input);
            assert.equal(actual.allow, expected, `${rule.name} (${rule.check_str}) for ${show(input)}: ${JSON.stringify(actual.violations)}`);
            decisions += 1;
            if (expected) allowed += 1;
          }
        }
      }
      // Both outcomes must be exercised, or agreement would prove little.
      assert.ok(allowed > decisions / 10 && allowed < decisions, `${allowed} of ${decisions} allowed`);
      console.log(`      ${decisions} decisions, ${allowed} allowed`);
    });
  }

  it('agrees with enforce_scope off and request validation on (a sample)', () => {
    const oslo = createOsloEngine({ defaults: rules, enforceScope: false, enforceNewDefaults: true });
    const cedar = createCedarEngine({ ...bundle, enforceScope: false, enforceNewDefaults: true, validateRequests: true });
    for (const rule of rules) {
      for (const assignment of targetsFor(rule).slice(0, 3)) {
        for (const creds of credentials.filter((_, i) => i % 3 === 0)) {
          const input = inputFor(creds, assignment);
          assert.equal(cedar.decide(rule.name, input).allow, oslo.decide(rule.name, input).allow, `${rule.name} for ${show(input)}`);
        }
      }
    }
  });
});

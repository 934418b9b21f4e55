/**
 * Decision cases derived from a rule's own check string: role sets × token scopes × targets that
 * do or do not belong to the caller, built from the target keys the rule (and every rule it
 * refers to) reads. Used to compare engines with the oslo reference evaluator and to generate the
 * Rego unit tests, so it is deterministic: same rules in, same cases out.
 */
import { type Check, parseCheck } from './oslo.js';
import type { Credentials, PolicyInput, PolicyRule } from './pdp.js';

export type Scope = 'system' | 'domain' | 'project';
export const SCOPES: readonly Scope[] = ['system', 'domain', 'project'];

export const OWN = { user: 'u-own', domain: 'd-own', project: 'p-own' } as const;
const FOREIGN = 'x-foreign';

export interface PolicyCase {
  readonly label: string;
  readonly input: PolicyInput;
}

export function credentialsFor(scope: Scope, roles: readonly string[]): Credentials {
  return {
    user_id: OWN.user,
    user_domain_id: OWN.domain,
    project_id: scope === 'project' ? OWN.project : null,
    project_domain_id: scope === 'project' ? OWN.domain : null,
    domain_id: scope === 'domain' ? OWN.domain : null,
    system_scope: scope === 'system' ? 'all' : null,
    roles,
    role_ids: roles.map((r) => `id-${r}`),
    methods: ['password'],
    audit_ids: ['audit-1'],
    is_admin_project: false,
    trust_id: null,
    app_cred_id: null,
    identity_provider_id: null,
    protocol_id: null,
    service_user_id: null,
    service_roles: [],
    attributes: {},
    // Keystone's token view, which the domain-manager rules read (token.domain.id).
    token: {
      user: { id: OWN.user, domain: { id: OWN.domain } },
      ...(scope === 'domain' ? { domain: { id: OWN.domain, name: 'own-domain' } } : {}),
      ...(scope === 'project' ? { project: { id: OWN.project, name: 'own-project', domain: { id: OWN.domain, name: 'own-domain' } } } : {}),
    },
    is_admin: false,
  };
}

interface Usage {
  /** Roles named by `role:` checks. */
  readonly roles: Set<string>;
  /** Target key → the left sides compared with it (credential paths or literals). */
  readonly keys: Map<string, Set<string>>;
}

function collect(check: Check, rules: ReadonlyMap<string, PolicyRule>, usage: Usage, seen: Set<string>): void {
  switch (check.kind) {
    case 'not':
      collect(check.check, rules, usage, seen);
      break;
    case 'and':
    case 'or':
      for (const c of check.checks) collect(c, rules, usage, seen);
      break;
    case 'rule': {
      const rule = rules.get(check.name);
      if (!rule || seen.has(check.name)) break;
      seen.add(check.name);
      collect(parseCheck(rule.check_str), rules, usage, seen);
      if (rule.deprecated) collect(parseCheck(rule.deprecated), rules, usage, seen);
      break;
    }
    case 'role':
      if (!check.match.includes('%(')) usage.roles.add(check.match);
      break;
    case 'generic':
      for (const m of check.match.matchAll(/%\(([^)]+)\)s/g)) {
        const lefts = usage.keys.get(m[1]!) ?? new Set<string>();
        lefts.add(check.left);
        usage.keys.set(m[1]!, lefts);
      }
      break;
    default:
      break;
  }
}

/** The value a target key must hold to match `left` for a caller with these credentials. */
function ownValue(left: string, creds: Credentials): unknown {
  if (left === 'None') return null;
  if (left === 'True') return true;
  if (left === 'False') return false;
  const quoted = /^'(.*)'$|^"(.*)"$/.exec(left);
  if (quoted) return quoted[1] ?? quoted[2];
  let value: unknown = creds;
  for (const key of left.split('.')) {
    if (value === null || typeof value !== 'object' || !(key in value)) return OWN.domain; // e.g. token.domain.id
    value = (value as Record<string, unknown>)[key];
    if (Array.isArray(value)) value = value[0];
  }
  return value;
}

/** Sets a flattened key (`target.user.domain_id`, `user_id`, `request_body.x`) in an input. */
function place(input: { path: Record<string, string>; target: Record<string, unknown>; request_body: Record<string, unknown>; filter_attr: Record<string, unknown> }, key: string, value: unknown): void {
  const [head, ...rest] = key.split('.');
  const root =
    head === 'target' ? input.target : head === 'request_body' ? input.request_body : head === 'filter_attr' ? input.filter_attr : undefined;
  if (!root || rest.length === 0) {
    input.path[key] = value === null || value === undefined ? 'None' : String(value);
    return;
  }
  let node = root;
  for (const segment of rest.slice(0, -1)) {
    const next = node[segment];
    if (next === null || typeof next !== 'object') node[segment] = {};
    node = node[segment] as Record<string, unknown>;
  }
  node[rest[rest.length - 1]!] = value;
}

function buildInput(creds: Credentials, values: ReadonlyMap<string, unknown>): PolicyInput {
  const input = { path: {} as Record<string, string>, target: {}, request_body: {}, filter_attr: {} };
  for (const [key, value] of values) if (value !== undefined) place(input, key, value);
  const result: { -readonly [K in keyof PolicyInput]: PolicyInput[K] } = { credentials: creds, path: input.path, target: input.target };
  if (Object.keys(input.request_body).length > 0) result.request_body = input.request_body;
  if (Object.keys(input.filter_attr).length > 0) result.filter_attr = input.filter_attr;
  return result;
}

/** Role sets worth trying for a rule: none, each role alone, one upper-cased, all together. */
function roleSets(roles: ReadonlySet<string>): string[][] {
  const names = [...roles].sort();
  const sets: string[][] = [[], ...names.map((r) => [r])];
  if (names[0]) sets.push([names[0].toUpperCase()]);
  if (names.length > 1) sets.push(names);
  return sets;
}

/**
 * Cases for one rule: for each scope and role set, targets where every key is the caller's own,
 * every key is foreign, no key is present, and each key in turn takes each alternative value
 * (another left side's value, foreign, None) while the others stay own.
 */
export function casesForRule(name: string, rules: readonly PolicyRule[]): PolicyCase[] {
  const byName = new Map(rules.map((r) => [r.name, r]));
  const usage: Usage = { roles: new Set(), keys: new Map() };
  collect({ kind: 'rule', name }, byName, usage, new Set());
  const keys = [...usage.keys.keys()].sort();
  const cases: PolicyCase[] = [];
  for (const scope of SCOPES) {
    for (const roles of roleSets(usage.roles)) {
      const creds = credentialsFor(scope, roles);
      const who = `${scope}[${roles.join(',')}]`;
      const own = new Map(keys.map((k) => [k, ownValue([...usage.keys.get(k)!][0]!, creds)]));
      cases.push({ label: `${who} own`, input: buildInput(creds, own) });
      if (keys.length === 0) continue;
      cases.push({ label: `${who} foreign`, input: buildInput(creds, new Map(keys.map((k) => [k, FOREIGN]))) });
      cases.push({ label: `${who} no target`, input: buildInput(creds, new Map()) });
      for (const key of keys) {
        const alternatives = new Map<string, unknown>([[`${key}=foreign`, FOREIGN], [`${key}=None`, null]]);
        for (const left of usage.keys.get(key)!) alternatives.set(`${key}~${left}`, ownValue(left, creds));
        for (const [label, value] of alternatives) {
          if (value === own.get(key)) continue;
          cases.push({ label: `${who} ${label}`, input: buildInput(creds, new Map(own).set(key, value)) });
        }
      }
    }
  }
  return cases;
}

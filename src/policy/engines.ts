/**
 * The engine of a deployment, chosen by [keystone_ts] policy_engine, built over Keystone's
 * default rules plus an operator's overrides (policy file, stored bundle). Whatever the engine,
 * the overrides mean what they mean to oslo.policy: the reference engine evaluates them as
 * written, Rego reads them as compiled data, Cedar recompiles the rule set.
 */
import { compileCedar } from './cedar-compile.js';
import { createCedarEngine, loadCedarBundle } from './cedar-engine.js';
import { type Check, literalLeft, parseCheck } from './oslo.js';
import { createInlinePolicies } from './restriction-policy.js';
import { createOsloEngine, type PolicyEngine, type PolicyRule } from './pdp.js';
import { compileRegoOverrides } from './rego-overrides.js';
import { createRegoEngine, readDefaultRegoWasm } from './rego-engine.js';

export const POLICY_ENGINES = ['rego', 'cedar', 'oslo'] as const;
export type PolicyEngineKind = (typeof POLICY_ENGINES)[number];

export interface EngineBuildOptions {
  readonly kind: PolicyEngineKind;
  readonly rules: readonly PolicyRule[];
  /** Rule name → check string, as in an oslo.policy file. */
  readonly overrides: Readonly<Record<string, string>>;
  readonly enforceScope: boolean;
  readonly enforceNewDefaults: boolean;
}

/**
 * The rule set with the overrides applied, as oslo.policy sees it: an overridden rule takes the
 * file's check string and loses its deprecated alternative; a new bare name is an alias rule.
 */
export function applyOverrides(rules: readonly PolicyRule[], overrides: Readonly<Record<string, string>>): PolicyRule[] {
  const byName = new Map(rules.map((rule) => [rule.name, rule]));
  const out = rules.map((rule) => {
    const source = overrides[rule.name];
    if (source === undefined) return rule;
    const { deprecated: _deprecated, ...rest } = rule;
    return { ...rest, check_str: source };
  });
  for (const [name, check_str] of Object.entries(overrides)) if (!byName.has(name)) out.push({ name, check_str, scope_types: [] });
  return out;
}

/**
 * The credential members a rule set can read: the first segment of every generic check's left
 * side, `roles` for role checks, and what the token scope is decided from.
 */
export function referencedCredentials(rules: readonly PolicyRule[], overrides: Readonly<Record<string, string>>): string[] {
  // The restriction is enforced on every action (oslo.rego restriction_violation).
  const keys = new Set<string>(['system_scope', 'domain_id', 'restriction']);
  const visit = (check: Check): void => {
    switch (check.kind) {
      case 'not':
        visit(check.check);
        break;
      case 'and':
      case 'or':
        check.checks.forEach(visit);
        break;
      case 'role':
        keys.add('roles');
        break;
      case 'generic':
        if (!literalLeft(check.left)) keys.add(check.left.split('.')[0]!);
        break;
      default:
        break;
    }
  };
  for (const rule of rules) {
    visit(parseCheck(rule.check_str));
    if (rule.deprecated) visit(parseCheck(rule.deprecated));
  }
  for (const source of Object.values(overrides)) visit(parseCheck(source));
  return [...keys].sort();
}

/** Compiled Wasm is read once per process; every rebuild reuses it. */
let defaultWasm: Buffer | undefined;

/** The engine a deployment decides with: the active one, and restrictions' inline policies after it. */
export async function buildPolicyEngine(options: EngineBuildOptions): Promise<PolicyEngine> {
  const settings = { enforceScope: options.enforceScope, enforceNewDefaults: options.enforceNewDefaults };
  return createInlinePolicies(settings).wrap(await buildActiveEngine(options));
}

async function buildActiveEngine(options: EngineBuildOptions): Promise<PolicyEngine> {
  const settings = { enforceScope: options.enforceScope, enforceNewDefaults: options.enforceNewDefaults };
  switch (options.kind) {
    case 'oslo':
      return createOsloEngine({ defaults: options.rules, overrides: options.overrides, ...settings });
    case 'rego': {
      // The reference engine validates the file first (unknown names, syntax, dangling rule: refs),
      // so Rego refuses exactly what oslo refuses.
      createOsloEngine({ defaults: options.rules, overrides: options.overrides, ...settings });
      defaultWasm ??= readDefaultRegoWasm();
      const overrides = compileRegoOverrides(options.rules, options.overrides, options.enforceNewDefaults);
      return createRegoEngine({ wasm: defaultWasm, overrides, credentialKeys: referencedCredentials(options.rules, options.overrides), ...settings });
    }
    case 'cedar': {
      createOsloEngine({ defaults: options.rules, overrides: options.overrides, ...settings });
      if (Object.keys(options.overrides).length === 0) return createCedarEngine({ ...loadCedarBundle(), ...settings });
      const compiled = compileCedar(applyOverrides(options.rules, options.overrides));
      return createCedarEngine({ policies: [...compiled.policyFiles.values()].join('\n'), schema: compiled.schema, ...settings });
    }
  }
}

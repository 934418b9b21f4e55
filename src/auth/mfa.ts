/**
 * Per-user multi-factor rules (keystone/auth/core.py UserMFARulesValidator, spec 5.8): the user
 * options `multi_factor_auth_enabled` and `multi_factor_auth_rules`, checked against the methods
 * that succeeded (plus those of an auth receipt) once every method has run.
 */
import { Unauthorized } from '../common/errors.js';

export type MfaRule = readonly string[];

/**
 * _parse_rule_structure: rules come from the database, so anything malformed is dropped rather
 * than refused (corrupt rules must not lock a user out): the whole list if it is not a list, a
 * rule that is not a non-empty list of strings; each rule is de-duplicated.
 */
export function parseMfaRules(stored: unknown): MfaRule[] {
  if (!Array.isArray(stored)) return [];
  const rules: MfaRule[] = [];
  for (const rule of stored) {
    if (!Array.isArray(rule) || rule.length === 0) continue;
    if (!rule.every((method) => typeof method === 'string')) continue;
    rules.push([...new Set(rule as string[])]);
  }
  return rules;
}

/** The user options as the identity service stores them, by option name. */
export interface MfaOptions {
  readonly multi_factor_auth_enabled?: unknown;
  readonly multi_factor_auth_rules?: unknown;
}

/**
 * check_auth_methods_against_rules. Each rule is narrowed to the methods this server loads, so
 * an operator who unloads a method cannot lock its users out; a rule left empty is ignored, and
 * when every rule is empty authentication passes (LP#2102096). Otherwise some rule must be
 * wholly among the methods used.
 */
export function mfaSatisfied(options: MfaOptions, methodsUsed: ReadonlySet<string>, loaded: ReadonlySet<string>): boolean {
  const rules = parseMfaRules(options.multi_factor_auth_rules);
  // Keystone's default for the option is true: rules alone turn MFA on.
  if (rules.length === 0 || options.multi_factor_auth_enabled === false) return true;
  let anyEffectiveRule = false;
  for (const rule of rules) {
    const effective = rule.filter((method) => loaded.has(method));
    if (effective.length === 0) continue;
    anyEffectiveRule = true;
    if (effective.every((method) => methodsUsed.has(method))) return true;
  }
  return !anyEffectiveRule;
}

/**
 * ReceiptModel.required_methods: the loaded part of every rule that shares a method with the
 * methods already used, i.e. the ways the client can still complete authentication.
 */
export function requiredAuthMethods(options: MfaOptions, methodsUsed: ReadonlySet<string>, loaded: ReadonlySet<string>): string[][] {
  const required: string[][] = [];
  for (const rule of parseMfaRules(options.multi_factor_auth_rules)) {
    const effective = rule.filter((method) => loaded.has(method));
    if (effective.some((method) => methodsUsed.has(method))) required.push(effective);
  }
  return required;
}

/**
 * Keystone's InsufficientAuthMethods: every method succeeded but no rule is satisfied. The auth
 * route answers it with an auth receipt (401) instead of an error body; anywhere else it is an
 * ordinary 401.
 */
export class InsufficientAuthMethods extends Unauthorized {
  constructor(
    readonly userId: string,
    readonly methods: readonly string[],
  ) {
    super(`Insufficient auth methods received for ${userId}. Auth Methods Provided: [${methods.join(',')}].`);
  }
}

/**
 * Binding rules (Keystone-NG calls them mappings): which tokens of an issuer may log in, as
 * whom, and into which project. A rule's conditions all must hold; the first rule that holds
 * (or the one the login names) decides. Every condition that fails says why, so the dry run can
 * explain a refusal without anyone reading the code.
 */

/**
 * A claim condition: a string, number or boolean matches that exact value; a list matches any of
 * its values; `{glob: pattern | patterns}` matches strings against `*` (any run of characters)
 * and `?` (one character). There is no implicit glob: a `*` in a plain string is a literal.
 */
export type ClaimCondition = string | number | boolean | readonly (string | number | boolean)[] | { readonly glob: string | readonly string[] };

export interface BindingRule {
  /** The token's `aud` must contain one of these, on top of the issuer's audiences. */
  readonly bound_audiences: readonly string[] | null;
  /** The token's `sub`: exact, or a glob with `{glob}` semantics when given as such. */
  readonly bound_subject: ClaimCondition | null;
  /** Claim path → condition; paths are dotted (`kubernetes.io.namespace`). */
  readonly bound_claims: Readonly<Record<string, ClaimCondition>>;
  /** The user the token logs in as (a service account is a user); or null with `shadow_user`. */
  readonly token_user_id: string | null;
  /**
   * A user per workload instead: named `<issuer name>/<claim value>` in the issuer's domain,
   * created at its first login without a password and put in `group_id`, whose role assignments
   * give it its roles (Keystone's federation idiom: roles go to groups, not to shadow users).
   */
  readonly shadow_user: { readonly name_claim: string; readonly group_id: string } | null;
  /** The project the issued token is scoped to. */
  readonly token_project_id: string;
  readonly token_restriction_id: string | null;
  /** Claims copied into the token's `credentials.attributes`; null: the preset's, else those bound. */
  readonly attribute_claims: readonly string[] | null;
}

/**
 * The value at a dotted claim path. Claim names may contain dots themselves (Kubernetes'
 * `kubernetes.io`), so at each level the longest key that is a prefix of the path wins.
 */
export function claimAt(claims: Readonly<Record<string, unknown>>, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  for (let dot = path.lastIndexOf('.'); dot > 0; dot = path.lastIndexOf('.', dot - 1)) {
    const head = path.slice(0, dot);
    const inner = Object.hasOwn(claims, head) ? claims[head] : undefined;
    if (inner !== null && typeof inner === 'object' && !Array.isArray(inner)) {
      const found = claimAt(inner as Record<string, unknown>, path.slice(dot + 1));
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

export function globToRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[\\s\\S]*').replace(/\?/g, '[\\s\\S]');
  return new RegExp(`^${body}$`);
}

function isConditionList(condition: ClaimCondition): condition is readonly (string | number | boolean)[] {
  return Array.isArray(condition);
}

function isScalar(value: unknown): value is string | number | boolean {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

/** Why `value` does not satisfy `condition`, or null when it does. */
export function conditionFailure(condition: ClaimCondition, value: unknown): string | null {
  if (value === undefined) return 'is missing';
  if (isConditionList(condition)) {
    return isScalar(value) && condition.includes(value) ? null : `is ${JSON.stringify(value)}, not one of ${JSON.stringify(condition)}`;
  }
  if (typeof condition === 'object' && condition !== null) {
    const patterns = typeof condition.glob === 'string' ? [condition.glob] : condition.glob;
    return typeof value === 'string' && patterns.some((pattern) => globToRegExp(pattern).test(value))
      ? null
      : `is ${JSON.stringify(value)}, matching none of ${JSON.stringify(patterns)}`;
  }
  return value === condition ? null : `is ${JSON.stringify(value)}, not ${JSON.stringify(condition)}`;
}

export interface BindingEvaluation {
  readonly matched: boolean;
  /** One line per failed condition; empty when matched. */
  readonly reasons: readonly string[];
}

export function evaluateBinding(rule: BindingRule, claims: Readonly<Record<string, unknown>>): BindingEvaluation {
  const reasons: string[] = [];
  if (rule.bound_audiences && rule.bound_audiences.length > 0) {
    const aud = claims['aud'];
    const audiences = Array.isArray(aud) ? aud : [aud];
    if (!rule.bound_audiences.some((wanted) => audiences.includes(wanted))) {
      reasons.push(`aud ${JSON.stringify(aud)} contains none of ${JSON.stringify(rule.bound_audiences)}`);
    }
  }
  if (rule.bound_subject !== null) {
    const failure = conditionFailure(rule.bound_subject, claims['sub']);
    if (failure) reasons.push(`sub ${failure}`);
  }
  for (const [path, condition] of Object.entries(rule.bound_claims)) {
    const failure = conditionFailure(condition, claimAt(claims, path));
    if (failure) reasons.push(`${path} ${failure}`);
  }
  return { matched: reasons.length === 0, reasons };
}

/**
 * The attributes a login carries into every later policy decision: the chosen claims under
 * their path names. Only scalars are copied: every engine compares them the same way (oslo and
 * Rego would test a list for membership, Cedar's target values are strings), and a policy
 * compares values rather than walking issuer-specific structures.
 */
export function selectAttributes(paths: readonly string[], claims: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  for (const path of paths) {
    const value = claimAt(claims, path);
    if (isScalar(value)) attributes[path] = value;
  }
  return attributes;
}

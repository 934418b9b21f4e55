import { randomUUID } from 'node:crypto';
import { restrictionViolation } from './restriction.js';
import { assertAcyclic, type Check, evaluate, parseCheck, PolicySyntaxError, referencedRules } from './oslo.js';

/**
 * The policy decision point: every enforced route asks `decide(action, input)` once, after
 * authentication and before the provider call. The engine sees only this plain document, never
 * HTTP objects (ARCHITECTURE.md, request flow).
 */
export interface Credentials {
  readonly user_id: string;
  readonly user_domain_id: string;
  readonly project_id: string | null;
  readonly project_domain_id: string | null;
  readonly domain_id: string | null;
  readonly system_scope: 'all' | null;
  /** Effective role names (implied roles expanded), as Keystone's policy compares names. */
  readonly roles: readonly string[];
  readonly role_ids: readonly string[];
  readonly methods: readonly string[];
  readonly audit_ids: readonly string[];
  readonly is_admin_project: boolean;
  readonly trust_id: string | null;
  readonly app_cred_id: string | null;
  readonly identity_provider_id: string | null;
  readonly protocol_id: string | null;
  /** Roles of the X-Service-Token, when one was sent and valid (spec's `service_roles`). */
  readonly service_user_id: string | null;
  readonly service_roles: readonly string[];
  /**
   * A restricted token's restriction (payload 11), read again at every validation; null for
   * every other token. Policies enforce it on every action: `actions` (allow-list of action
   * names with `*` globs) and `source_cidrs` (null: any), and `inline_policy` must also allow.
   * `role_ids` are the restriction's; the token's own `roles` are already its intersection with
   * what the user holds.
   */
  readonly restriction: CredentialsRestriction | null;
  /**
   * Attributes of the caller beyond Keystone's: for a workload token, the claims its login's
   * binding selected (`repository`, `ref`, `kubernetes.io.namespace`, ...). `{}` otherwise.
   */
  readonly attributes: Readonly<Record<string, unknown>>;
  /**
   * Keystone also hands its policy the rendered token (rules read `token.domain.id` and
   * `token.project.domain.id`) and `is_admin` (true only with the deprecated admin_token, which
   * keystone-ts does not accept). Optional: documents built by hand may leave them out.
   */
  readonly token?: {
    readonly user: { readonly id: string; readonly domain: { readonly id: string } };
    readonly domain?: { readonly id: string; readonly name: string };
    readonly project?: { readonly id: string; readonly name: string; readonly domain: { readonly id: string; readonly name: string } };
  };
  readonly is_admin?: boolean;
}

export interface CredentialsRestriction {
  readonly id: string;
  readonly actions: readonly string[] | null;
  readonly source_cidrs: readonly string[] | null;
  readonly allow_renew: boolean;
  readonly allow_rescope: boolean;
  readonly role_ids: readonly string[];
  readonly inline_policy: null | { readonly language: 'rego' | 'cedar'; readonly source: string };
}

export interface PolicyInput {
  readonly credentials: Credentials;
  /** URL path variables (`user_id`, `project_id`, ...), visible at the top level of the target. */
  readonly path?: Readonly<Record<string, string>>;
  /** Entities loaded for the decision: `{token: {user_id, ...}}`, `{user: {...}}`, ... */
  readonly target?: Readonly<Record<string, unknown>>;
  readonly request_body?: unknown;
  readonly filter_attr?: Readonly<Record<string, unknown>>;
  readonly request?: { readonly method: string; readonly path: string; readonly source?: string };
}

export interface Violation {
  readonly field: string;
  readonly message: string;
}

export interface Decision {
  readonly allow: boolean;
  readonly violations: readonly Violation[];
  readonly decisionId: string;
}

export interface PolicyEngine {
  decide(action: string, input: PolicyInput): Decision;
}

export interface PolicyRule {
  readonly name: string;
  readonly check_str: string;
  readonly scope_types?: readonly string[];
  readonly deprecated?: string;
  /** The API operations the rule guards, `[method or methods, path template]`, as upstream documents them. */
  readonly ops?: readonly (readonly [string | readonly string[], string])[];
}

export interface OsloEngineOptions {
  readonly defaults: readonly PolicyRule[];
  /** An operator's policy.yaml/json: rule name → check string. Unknown names are refused. */
  readonly overrides?: Readonly<Record<string, string>>;
  readonly enforceScope: boolean;
  readonly enforceNewDefaults: boolean;
}

interface CompiledRule {
  readonly check: Check;
  readonly source: string;
  readonly scopeTypes: readonly string[] | undefined;
}

/**
 * Flattens nested objects into oslo's dotted keys: {target: {user: {id}}} → target.user.id, as
 * Keystone's utils.flatten_dict does: only leaves get keys, so `%(target.user)s` is a missing key.
 */
function flatten(prefix: string, value: unknown, into: Record<string, unknown>): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) flatten(prefix ? `${prefix}.${key}` : key, inner, into);
  } else if (prefix) {
    into[prefix] = value;
  }
}

export function flattenTarget(input: PolicyInput): Record<string, unknown> {
  const flat: Record<string, unknown> = { ...input.path };
  if (input.target) flatten('target', input.target, flat);
  if (input.request_body !== undefined) flatten('request_body', input.request_body, flat);
  if (input.filter_attr) flatten('filter_attr', input.filter_attr, flat);
  return flat;
}

function tokenScope(creds: Credentials): 'system' | 'domain' | 'project' {
  if (creds.system_scope) return 'system';
  if (creds.domain_id) return 'domain';
  return 'project';
}

/**
 * Keystone's own engine: oslo.policy check strings evaluated directly. It is exact by
 * construction (the same language Keystone evaluates), accepts operators' policy files, and is
 * the reference the Rego and Cedar engines are compared with.
 */
export function createOsloEngine(options: OsloEngineOptions): PolicyEngine {
  const rules = new Map<string, CompiledRule>();
  for (const rule of options.defaults) {
    const source =
      !options.enforceNewDefaults && rule.deprecated ? `(${rule.check_str || '@'}) or (${rule.deprecated})` : rule.check_str;
    rules.set(rule.name, { check: parseCheck(source), source, scopeTypes: rule.scope_types });
  }
  for (const [name, source] of Object.entries(options.overrides ?? {})) {
    const existing = rules.get(name);
    // An action-like name (`identity:get_usr`) that no route evaluates is a typo that would
    // silently leave the default in force: refused at load. Bare names are the operator's own
    // alias rules (`cloud_admin`), which oslo.policy files commonly define for `rule:` use.
    if (!existing && name.includes(':')) throw new PolicySyntaxError(name, 'unknown rule name in the policy file');
    rules.set(name, { check: parseCheck(source), source, scopeTypes: existing?.scopeTypes });
  }
  const checks = new Map<string, Check>([...rules].map(([name, rule]) => [name, rule.check]));
  for (const [name, rule] of rules) {
    for (const ref of referencedRules(rule.check)) {
      if (!checks.has(ref)) throw new PolicySyntaxError(name, `refers to unknown rule ${JSON.stringify(ref)}`);
    }
  }
  assertAcyclic(checks);

  return {
    decide(action, input) {
      const decisionId = randomUUID();
      const rule = rules.get(action);
      if (!rule) {
        return { allow: false, decisionId, violations: [{ field: 'action', message: `no policy rule named ${action}` }] };
      }
      const restricted = restrictionViolation(input.credentials, action, input.request?.source);
      if (restricted) return { allow: false, decisionId, violations: [restricted] };
      if (options.enforceScope && rule.scopeTypes && rule.scopeTypes.length > 0) {
        const scope = tokenScope(input.credentials);
        if (!rule.scopeTypes.includes(scope)) {
          return {
            allow: false,
            decisionId,
            violations: [
              { field: 'credentials.scope', message: `${scope}-scoped tokens are not allowed; ${action} accepts ${rule.scopeTypes.join(', ')}` },
            ],
          };
        }
      }
      const allow = evaluate(rule.check, {
        creds: input.credentials as unknown as Record<string, unknown> & { roles: readonly string[] },
        target: flattenTarget(input),
        rules: checks,
      });
      return {
        allow,
        decisionId,
        violations: allow ? [] : [{ field: 'credentials', message: `${action} requires ${rule.source}` }],
      };
    },
  };
}

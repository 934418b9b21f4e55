/**
 * oslo.policy rules → Rego (OPA v1 syntax).
 *
 * Every rule of a rule set becomes a boolean Rego rule in the package of its resource area
 * (`identity:get_user` → `get_user` in `keystone.identity.users`), so `rule:x` references become
 * plain Rego references and OPA evaluates exactly the rule graph oslo.policy does. What does not
 * depend on the rule set (Python-style rendering, credential lookups, token scope, scope
 * enforcement and the enforce_new_defaults switch) lives once in the hand-written-looking
 * `keystone.oslo` helper package emitted by `osloHelpersRego`.
 *
 * The input document is `PolicyInput` plus `action`: credentials, path, target, request_body,
 * filter_attr. The oslo flattened-target key `target.user.domain_id` is read as
 * `input.target.user.domain_id`, `request_body.x` as `input.request_body.x`, `filter_attr.x` as
 * `input.filter_attr.x`, and any other key as a path variable `input.path[key]`. The two
 * switches are data, not code: `data.config.oslo_policy.enforce_scope` and
 * `data.config.oslo_policy.enforce_new_defaults` (both default to true, like oslo.policy ≥ 4.4),
 * so deprecated alternatives are compiled once and guarded by the switch.
 *
 * Known, deliberate differences from the reference evaluator (none reachable from the default
 * rules with `Credentials` as built by keystone-ts): a path variable whose name starts with
 * `target.`/`request_body.`/`filter_attr.` is not looked up; target members whose own keys
 * contain dots are not found; objects rendered with `%(x)s` are JSON with sorted keys
 * (json.marshal) where the reference keeps insertion order; non-integral numbers use Go's
 * formatting; role names are lower-cased with Go's rules instead of JavaScript's.
 */
import { type Check, literalLeft, parseCheck, pythonStr, referencedRules } from './oslo.js';
import type { PolicyRule } from './pdp.js';

/** Root package of the generated policy; the decision entrypoint is `keystone/decision`. */
export const REGO_ROOT_PACKAGE = 'keystone';
export const REGO_DECISION_ENTRYPOINT = 'keystone/decision';
export const REGO_HELPERS_PACKAGE = 'keystone.oslo';

/** Where the two oslo.policy switches live in OPA's data document. */
export const REGO_CONFIG_PATH = ['config', 'oslo_policy'] as const;

/**
 * Resource areas, first match wins, tested against the rule name without `identity:`. Order
 * matters where one name contains another resource's word (`list_roles_for_trust` is a trust
 * operation, `list_endpoints_for_project` a project-endpoint association).
 */
const AREAS: readonly (readonly [area: string, pattern: RegExp])[] = [
  ['ec2', /^(ec2_|ec2tokens|s3tokens)/],
  ['access_rules', /access_rule/],
  ['oauth1', /request_token|access_token|consumer/],
  ['application_credentials', /application_credential/],
  ['auth', /^get_auth_/],
  ['endpoint_groups', /endpoint_group/],
  ['policies', /polic(y|ies)/],
  ['project_endpoints', /projects_for_endpoint|endpoints?_(to|in|for|from)_project/],
  ['credentials', /credential/],
  ['domain_configs', /domain_config/],
  ['grants', /grant/],
  ['implied_roles', /implied_role|role_inference/],
  ['role_assignments', /role_assignment/],
  ['registered_limits', /registered_limit/],
  ['limits', /limit/],
  ['identity_providers', /identity_provider/],
  ['service_providers', /service_provider/],
  ['mappings', /mapping/],
  ['protocols', /protocol/],
  ['regions', /region/],
  ['revoke_events', /revoke_event|revocation_list/],
  ['tokens', /token/],
  ['trusts', /trust/],
  ['groups', /group/],
  ['roles', /role/],
  ['endpoints', /endpoint/],
  ['services', /service/],
  ['projects', /project/],
  ['domains', /domain/],
  ['users', /user/],
];

/** The area a rule belongs to: `common` for the shared base rules (admin_required, owner, ...). */
export function regoArea(ruleName: string): string {
  if (ruleName.startsWith('keystone_ts:')) return 'keystone_ts';
  if (!ruleName.startsWith('identity:')) return 'common';
  const bare = ruleName.slice('identity:'.length);
  for (const [area, pattern] of AREAS) if (pattern.test(bare)) return area;
  return 'other';
}

export function regoPackage(area: string): string {
  return `${REGO_ROOT_PACKAGE}.identity.${area}`;
}

const REGO_KEYWORDS = new Set([
  'as', 'contains', 'data', 'default', 'else', 'every', 'false', 'if', 'import', 'in', 'input', 'not', 'null',
  'package', 'some', 'true', 'with', 'allow', 'violations', 'rules', 'decision',
]);

/** A Rego identifier for a rule name, unique within its package. */
function regoIdent(ruleName: string): string {
  const bare = ruleName.startsWith('identity:') ? ruleName.slice('identity:'.length) : ruleName;
  let ident = bare.replace(/[^A-Za-z0-9_]/g, '_');
  if (!/^[A-Za-z_]/.test(ident)) ident = `r_${ident}`;
  if (REGO_KEYWORDS.has(ident)) ident = `${ident}_rule`;
  return ident;
}

/** A Rego string literal (JSON strings are valid Rego strings). */
function str(value: string): string {
  return JSON.stringify(value);
}

/** A reference into input: dots for identifiers, brackets otherwise (as `opa fmt` writes them). */
function ref(base: string, segments: readonly string[]): string {
  return base + segments.map((s) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(s) && !REGO_KEYWORDS.has(s) ? `.${s}` : `[${str(s)}]`)).join('');
}

/** The Rego expression of a flattened-target key's value; undefined in Rego when it is missing. */
function targetValue(key: string): string {
  const segments = key.split('.');
  const [head, ...rest] = segments;
  if (head === 'target' || head === 'request_body' || head === 'filter_attr') return ref(`input.${head}`, rest);
  return ref('input.path', [key]);
}

/** `match % target` as a Rego string expression, or a constant when there is no template. */
function renderExpr(match: string, helpers: string): { constant: string } | { expr: string } {
  const parts: string[] = [];
  let last = 0;
  for (const m of match.matchAll(/%\(([^)]+)\)s/g)) {
    if (m.index > last) parts.push(str(match.slice(last, m.index)));
    parts.push(`${helpers}.render(${targetValue(m[1]!)})`);
    last = m.index + m[0].length;
  }
  if (parts.length === 0) return { constant: match };
  if (last < match.length) parts.push(str(match.slice(last)));
  return { expr: parts.length === 1 ? parts[0]! : `concat("", [${parts.join(', ')}])` };
}

/** Longest credential path the helper package has a lookup function for. */
export const MAX_CREDENTIAL_PATH = 4;

export interface RegoModule {
  /** File name under policies/rego, e.g. `users.rego`. */
  readonly file: string;
  readonly pkg: string;
  readonly source: string;
}

interface RuleInfo {
  readonly rule: PolicyRule;
  readonly ident: string;
  readonly area: string;
  readonly check: Check;
  readonly deprecated: Check | undefined;
}

/** Rego bodies for one rule: each body is a list of expressions AND-ed; bodies are OR-ed. */
class RuleCompiler {
  private aux = 0;
  readonly auxRules: { name: string; bodies: string[][] }[] = [];

  constructor(
    private readonly owner: RuleInfo,
    private readonly byName: ReadonlyMap<string, RuleInfo>,
    private readonly helpers: string,
  ) {}

  /** Disjuncts of a check, each a conjunction of Rego expressions. */
  bodies(check: Check): string[][] {
    if (check.kind === 'or') return check.checks.flatMap((c) => this.bodies(c));
    return [this.conjunction(check)];
  }

  private conjunction(check: Check): string[] {
    switch (check.kind) {
      case 'true':
        return ['true'];
      case 'false':
        return ['false'];
      case 'and':
        return check.checks.flatMap((c) => this.conjunction(c));
      case 'or':
        return [this.auxRule(this.bodies(check))];
      case 'not': {
        const inner = this.conjunction(check.check);
        if (inner.length === 1 && inner[0] === 'true') return ['false'];
        if (inner.length === 1 && inner[0] === 'false') return ['true'];
        // Only a rule reference is negated in place. OPA hoists a call's arguments out of `not`,
        // so `not f(input.target.missing)` would be undefined (false) where oslo says true; a
        // helper rule keeps the missing key inside the negated body.
        const negatable = inner.length === 1 && /^[A-Za-z_][A-Za-z0-9_.]*$/.test(inner[0]!);
        return [`not ${negatable ? inner[0]! : this.auxRule([inner])}`];
      }
      case 'rule': {
        const target = this.byName.get(check.name);
        if (!target) throw new Error(`${this.owner.rule.name} refers to unknown rule ${check.name}`);
        return [target.area === this.owner.area ? target.ident : `data.${regoPackage(target.area)}.${target.ident}`];
      }
      case 'role': {
        const rendered = renderExpr(check.match, this.helpers);
        const arg = 'constant' in rendered ? str(rendered.constant.toLowerCase()) : rendered.expr;
        return [`${this.helpers}.has_role(${arg})`];
      }
      case 'generic': {
        const rendered = renderExpr(check.match, this.helpers);
        const literal = literalLeft(check.left);
        if (literal) {
          const expected = pythonStr(literal.value);
          if ('constant' in rendered) return [rendered.constant === expected ? 'true' : 'false'];
          return [`${rendered.expr} == ${str(expected)}`];
        }
        const path = check.left.split('.');
        if (path.length > MAX_CREDENTIAL_PATH) {
          throw new Error(`${this.owner.rule.name}: credential path ${check.left} is longer than ${MAX_CREDENTIAL_PATH}`);
        }
        const match = 'constant' in rendered ? str(rendered.constant) : rendered.expr;
        return [`${this.helpers}.creds_match_${path.length}(${[...path.map(str), match].join(', ')})`];
      }
    }
  }

  /** A private helper rule for a nested `or` or a negated conjunction (Rego has neither inline). */
  private auxRule(bodies: string[][]): string {
    this.aux += 1;
    const name = `_${this.owner.ident}_${this.aux}`;
    this.auxRules.push({ name, bodies });
    return name;
  }
}

function ruleText(name: string, bodies: readonly (readonly string[])[]): string {
  // `opa fmt` writes an always-true body as `name := true`.
  return bodies
    .map((body) => (body.length === 1 && body[0] === 'true' ? `${name} := true\n` : `${name} if {\n${body.map((e) => `\t${e}\n`).join('')}}\n`))
    .join('\n');
}

/** The message of a failed check, as the reference engine words it (`X requires <check>`). */
function requirement(rule: PolicyRule, withDeprecated: boolean): string {
  const source = withDeprecated && rule.deprecated ? `(${rule.check_str || '@'}) or (${rule.deprecated})` : rule.check_str;
  return `${rule.name} requires ${source}`;
}

function metadata(rule: PolicyRule): string {
  const fields = [`"scope_types": [${(rule.scope_types ?? []).map(str).join(', ')}]`, `"requires": ${str(requirement(rule, false))}`];
  if (rule.deprecated) fields.push(`"requires_with_deprecated": ${str(requirement(rule, true))}`);
  return `{${fields.join(', ')}}`;
}

/** Rejects rule graphs Rego cannot express (it forbids recursion; oslo would loop to its guard). */
function assertAcyclic(infos: ReadonlyMap<string, RuleInfo>): void {
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, trail: string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') throw new Error(`policy rules refer to each other in a cycle: ${[...trail, name].join(' → ')}`);
    state.set(name, 'visiting');
    const info = infos.get(name)!;
    const refs = referencedRules(info.check);
    if (info.deprecated) referencedRules(info.deprecated, refs);
    for (const ref of refs) if (infos.has(ref)) visit(ref, [...trail, name]);
    state.set(name, 'done');
  };
  for (const name of infos.keys()) visit(name, []);
}

function areaModule(area: string, rules: readonly RuleInfo[], infos: ReadonlyMap<string, RuleInfo>): string {
  const pkg = regoPackage(area);
  const helpers = `data.${REGO_HELPERS_PACKAGE}`;
  const out: string[] = [];
  out.push(
    `# Generated by src/policy/generate-rego.ts from policies/keystone/default-policy.json; do not edit.\n` +
      `package ${pkg}\n`,
  );
  out.push(`# Scope types and failure messages of each action in this area.\n${rules.map((r) => `rules[${str(r.rule.name)}] := ${metadata(r.rule)}\n`).join('\n')}`);
  out.push(
    `default allow := false\n\n` +
      `# allow: the action is in this area, a restricted token's restriction allows it, the token's\n` +
      `# scope is accepted and the rule's check passes.\n` +
      `allow if {\n\tmeta := rules[input.action]\n\tnot ${helpers}.restriction_violation(input.action)\n\tnot ${helpers}.scope_violation(input.action, meta)\n\t_decides\n}\n\n` +
      `violations contains v if {\n\trules[input.action]\n\tv := ${helpers}.restriction_violation(input.action)\n}\n\n` +
      `violations contains v if {\n\tnot ${helpers}.restriction_violation(input.action)\n\tv := ${helpers}.scope_violation(input.action, rules[input.action])\n}\n\n` +
      `violations contains v if {\n\tmeta := rules[input.action]\n\tnot ${helpers}.restriction_violation(input.action)\n\tnot ${helpers}.scope_violation(input.action, meta)\n\tnot _decides\n` +
      `\tv := {"field": "credentials", "message": ${helpers}.requirement(input.action, meta)}\n}\n\n` +
      `# This package's decision alone: the engine asks it directly, so only one area is evaluated.\n` +
      `decision := {"allow": allow, "violations": violations}\n`,
  );
  out.push(
    `# An operator's override (data.overrides, compiled from a policy file) replaces the rule's check.\n` +
      `_decides if {\n\tnot ${helpers}.overridden(input.action)\n\t_check\n}\n\n` +
      `_decides if ${helpers}.override_check(input.action)\n`,
  );
  out.push(
    `# The check of the requested action (keyed by action so only that rule is evaluated).\n` +
      rules.map((r) => `_check if {\n\tinput.action == ${str(r.rule.name)}\n\t${r.ident}\n}\n`).join('\n'),
  );
  for (const info of rules) {
    const compiler = new RuleCompiler(info, infos, helpers);
    const bodies = compiler.bodies(info.check);
    if (info.deprecated) {
      const deprecatedBodies = compiler.bodies(info.deprecated).map((body) => [`${helpers}.deprecated_rules_apply`, ...body]);
      bodies.push(...deprecatedBodies);
    }
    const header = [`# ${info.rule.name}: ${info.rule.check_str || '(empty: always true)'}`];
    if (info.rule.deprecated) header.push(`# deprecated (OR-ed unless enforce_new_defaults): ${info.rule.deprecated}`);
    out.push(`${header.join('\n')}\n${ruleText(info.ident, bodies.map((b) => simplify(b)))}`);
    for (const aux of compiler.auxRules) out.push(ruleText(aux.name, aux.bodies.map((b) => simplify(b))));
  }
  return out.join('\n');
}

/** Drops `true` from conjunctions that have other expressions; `true` stays alone otherwise. */
function simplify(body: readonly string[]): string[] {
  const rest = body.filter((e) => e !== 'true');
  return rest.length === 0 ? ['true'] : rest;
}

/** Where compiled operator overrides live in OPA's data document (see rego-overrides.ts). */
export const REGO_OVERRIDES_PATH = ['overrides'] as const;
const OVERRIDES_REF = `data.${REGO_OVERRIDES_PATH.join('.')}`;

/** Longest path below a target root (`target.project.domain.id` → 3) an override can read. */
export const MAX_TARGET_PATH = 6;

/**
 * Operator overrides evaluated from data, so the committed Wasm serves any policy file without
 * the OPA CLI: each overridden action (and each action whose check refers to an overridden rule)
 * carries its check in disjunctive normal form with every `rule:` reference inlined.
 */
function overrideHelpersRego(): string {
  const creds = Array.from({ length: MAX_CREDENTIAL_PATH }, (_, i) => {
    const keys = Array.from({ length: i + 1 }, (_, k) => `atom.path[${k}]`);
    return `_atom(atom) if {\n\tatom.kind == "creds"\n\tcount(atom.path) == ${i + 1}\n\tcreds_match_${i + 1}(${keys.join(', ')}, render_parts(atom.match))\n}\n`;
  });
  const targets = Array.from({ length: MAX_TARGET_PATH }, (_, i) => {
    const segments = Array.from({ length: i + 1 }, (_, k) => `[ref.path[${k}]]`).join('');
    return `target_value(ref) := input[ref.root]${segments} if count(ref.path) == ${i + 1}\n`;
  });
  return [
    `# Operator overrides (a policy file compiled to data by src/policy/rego-overrides.ts):\n` +
      `# ${OVERRIDES_REF}[action] = {"requires": message, "clauses": [[atom, ...], ...]}.\n` +
      `overridden(action) if ${OVERRIDES_REF}[action]\n\n` +
      `override_check(action) if {\n\tsome clause in ${OVERRIDES_REF}[action].clauses\n\tevery atom in clause {\n\t\tatom_holds(atom)\n\t}\n}\n\n` +
      `atom_holds(atom) if {\n\tnot atom.negate\n\t_atom(atom)\n}\n\n` +
      `# A check on a missing target key is false, so its negation holds (oslo's semantics).\n` +
      `atom_holds(atom) if {\n\tatom.negate\n\tnot _atom(atom)\n}\n`,
    `_atom(atom) if {\n\tatom.kind == "role"\n\thas_role(render_parts(atom.match))\n}\n\n` +
      `_atom(atom) if {\n\tatom.kind == "literal"\n\trender_parts(atom.match) == atom.value\n}\n\n` +
      creds.join('\n'),
    `# \`match % target\`: undefined when a referenced key is missing.\n` +
      `render_parts(parts) := concat("", pieces) if {\n\tpieces := [piece | some part in parts; piece := _part(part)]\n\tcount(pieces) == count(parts)\n}\n\n` +
      `_part(part) := part if is_string(part)\n\n_part(part) := render(target_value(part)) if is_object(part)\n\n` +
      targets.join('\n'),
  ].join('\n');
}

/** The helper package: oslo.policy's value semantics, written once for every area. */
export function osloHelpersRego(): string {
  const config = `data.${REGO_CONFIG_PATH.join('.')}`;
  const lookups: string[] = [];
  for (let n = 1; n <= MAX_CREDENTIAL_PATH; n += 1) {
    const keys = Array.from({ length: n }, (_, i) => `k${i + 1}`);
    const lines = [`\tsome v1 in _elems(input.credentials[k1])`];
    for (let i = 2; i <= n; i += 1) lines.push(`\tsome v${i} in _elems(v${i - 1}[k${i}])`);
    lines.push(`\trender(v${n}) == match`);
    lookups.push(`creds_match_${n}(${[...keys, 'match'].join(', ')}) if {\n${lines.join('\n')}\n}\n`);
  }
  return [
    `# Generated by src/policy/generate-rego.ts; do not edit.\n` +
      `# oslo.policy semantics shared by every keystone.identity.* package (see src/policy/oslo.ts).\n` +
      `package ${REGO_HELPERS_PACKAGE}\n`,
    `# [oslo_policy] switches, set by the engine as data; oslo.policy >= 4.4 defaults both to true.\n` +
      `default enforce_scope := true\n\nenforce_scope := ${config}.enforce_scope\n\n` +
      `default enforce_new_defaults := true\n\nenforce_new_defaults := ${config}.enforce_new_defaults\n\n` +
      `# Deprecated check strings are OR-ed into their rules while new defaults are not enforced.\n` +
      `deprecated_rules_apply if not enforce_new_defaults\n`,
    `# Python's str(): None, True and False by name, strings as they are, numbers and lists as JSON.\n` +
      `# An object is undefined: Keystone flattens the target to its leaves, so an object is a missing key.\n` +
      `render(x) := "None" if {\n\tx == null\n} else := "True" if {\n\tx == true\n} else := "False" if {\n\tx == false\n} else := x if {\n\tis_string(x)\n} else := json.marshal(x) if {\n\tnot is_object(x)\n}\n`,
    `# role:X: X is one of the token's role names, compared case-insensitively. The lower-cased\n` +
      `# set is built once per decision, however many role checks a rule makes.\n` +
      `_roles := {lower(role) | some role in input.credentials.roles}\n\n` +
      `has_role(name) if lower(name) in _roles\n`,
    `# A credential value matches if it, or any element of a list met on the way, renders as match.\n` +
      `_elems(x) := x if is_array(x)\n\n_elems(x) := [x] if not is_array(x)\n\n` +
      lookups.join('\n'),
    `# JavaScript truthiness, as the reference engine decides the token scope.\n` +
      `_truthy(x) if not x in {null, false, 0, ""}\n\n` +
      `token_scope := "system" if {\n\t_truthy(input.credentials.system_scope)\n} else := "domain" if {\n\t_truthy(input.credentials.domain_id)\n} else := "project"\n`,
    `# A rule's scope_types refuse the token's scope (only while scope is enforced).\n` +
      `scope_violation(action, meta) := v if {\n\tenforce_scope\n\tcount(meta.scope_types) > 0\n\tnot token_scope in meta.scope_types\n` +
      `\tmessage := concat("", [token_scope, "-scoped tokens are not allowed; ", action, " accepts ", concat(", ", meta.scope_types)])\n` +
      `\tv := {"field": "credentials.scope", "message": message}\n}\n`,
    `# A restricted token (credentials.restriction) is refused any action its restriction does not\n` +
      `# list (\`*\` matches any run of characters) and any request from outside its source ranges.\n` +
      `restriction_violation(action) := v if {\n\tr := input.credentials.restriction\n\tis_array(r.actions)\n\tnot _restriction_action(r.actions, action)\n` +
      `\tv := {"field": "credentials.restriction.actions", "message": concat("", ["token restriction ", r.id, " does not allow ", action])}\n` +
      `} else := v if {\n\tr := input.credentials.restriction\n\tis_array(r.source_cidrs)\n\tnot _restriction_source(r.source_cidrs)\n` +
      `\tv := {"field": "credentials.restriction.source_cidrs", "message": concat("", ["token restriction ", r.id, " does not allow requests from ", _source_text])}\n}\n\n` +
      `# An exact name, a name ending in the only \`*\` (a prefix: the common case, without compiling a\n` +
      `# glob), or else glob.match with no delimiters, so \`*\` crosses ':' and '.' alike.\n` +
      `_restriction_action(patterns, action) if action in patterns\n\n` +
      `_restriction_action(patterns, action) if {\n\tsome pattern in patterns\n\tendswith(pattern, "*")\n\tprefix := trim_suffix(pattern, "*")\n` +
      `\tnot contains(prefix, "*")\n\tstartswith(action, prefix)\n}\n\n` +
      `_restriction_action(patterns, action) if {\n\tsome pattern in patterns\n\tcontains(trim_suffix(pattern, "*"), "*")\n\tglob.match(pattern, null, action)\n}\n\n` +
      `_restriction_source(cidrs) if {\n\tsome cidr in cidrs\n\tnet.cidr_contains(cidr, input.request.source)\n}\n\n` +
      `_source_text := input.request.source if {\n\tis_string(input.request.source)\n} else := "an unknown address"\n`,
    `# What a failed check required: the override's check string, or the default's including the\n` +
      `# deprecated alternative when it applied.\n` +
      `requirement(action, meta) := ${OVERRIDES_REF}[action].requires if {\n\toverridden(action)\n} ` +
      `else := meta.requires_with_deprecated if {\n\tdeprecated_rules_apply\n} else := meta.requires\n`,
    overrideHelpersRego(),
  ].join('\n');
}

function rootModule(areas: readonly string[]): string {
  const refs = areas.map((a) => `data.${regoPackage(a)}`);
  return [
    `# Generated by src/policy/generate-rego.ts; do not edit.\n` +
      `# The decision entrypoint (${REGO_DECISION_ENTRYPOINT}): input is PolicyInput plus "action".\n` +
      `package ${REGO_ROOT_PACKAGE}\n`,
    `decision := {"allow": allow, "violations": violations}\n`,
    `default allow := false\n\n` + refs.map((r) => `allow if ${r}.allow\n`).join('\n'),
    refs.map((r) => `violations contains v if {\n\tsome v in ${r}.violations\n}\n`).join('\n'),
    `violations contains v if {\n\tnot _known\n\tv := {"field": "action", "message": concat("", ["no policy rule named ", input.action])}\n}\n`,
    refs.map((r) => `_known if ${r}.rules[input.action]\n`).join('\n'),
  ].join('\n');
}

/** Compiles a rule set into Rego modules: the helpers, one package per area, and the root. */
export function compileRego(rules: readonly PolicyRule[]): RegoModule[] {
  const infos = new Map<string, RuleInfo>();
  const identsByArea = new Map<string, Set<string>>();
  for (const rule of rules) {
    const area = regoArea(rule.name);
    let ident = regoIdent(rule.name);
    const used = identsByArea.get(area) ?? new Set<string>();
    while (used.has(ident)) ident = `${ident}_`;
    used.add(ident);
    identsByArea.set(area, used);
    infos.set(rule.name, {
      rule,
      ident,
      area,
      check: parseCheck(rule.check_str),
      deprecated: rule.deprecated ? parseCheck(rule.deprecated) : undefined,
    });
  }
  assertAcyclic(infos);
  const areas = [...identsByArea.keys()].sort();
  const modules: RegoModule[] = [{ file: 'oslo.rego', pkg: REGO_HELPERS_PACKAGE, source: osloHelpersRego() }];
  for (const area of areas) {
    const areaRules = [...infos.values()].filter((i) => i.area === area);
    modules.push({ file: `${area}.rego`, pkg: regoPackage(area), source: areaModule(area, areaRules, infos) });
  }
  modules.push({ file: 'keystone.rego', pkg: REGO_ROOT_PACKAGE, source: rootModule(areas) });
  return modules;
}

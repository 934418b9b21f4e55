import { type Check, literalLeft, parseCheck, PolicySyntaxError, pythonStr } from './oslo.js';
import type { Credentials, PolicyRule } from './pdp.js';
import { RESTRICTION_FACTS } from './restriction.js';

/**
 * oslo.policy rules compiled onto Cedar (docs/decisions/0005-cedar-mapping.md).
 *
 * The compiled policies must decide exactly as the oslo reference evaluator (oslo.ts) does, so
 * the mapping is literal rather than idiomatic:
 * - principal `User` carries the credentials; nullable ones (project_id, domain_id, system_scope,
 *   ...) are optional attributes, absent when None. `roles` holds lower-cased names because oslo
 *   compares role names case-insensitively; `scope` is the token scope used by scope_types.
 * - Cedar has no dynamic dotted lookup, so the compiler records every target key a rule
 *   references (`target.user.domain_id`, a path variable such as `user_id`, `request_body.*`,
 *   `filter_attr.*`) and the engine renders exactly those keys into `context.target`, a record of
 *   optional strings holding Python's `str()` of the value (None → "None"). A key missing from
 *   the target is absent from the record, and every comparison with it is guarded by `has`,
 *   which is oslo's "missing key → false".
 * - `a:%(b)s` compares str(creds[a]) with the rendered target value. str(None) is "None", so a
 *   nullable attribute equals the target value when present and equal, or when absent and the
 *   target renders as "None" (the reason upstream rules add `not None:%(...)s`).
 * - `rule:x` is inlined (a cycle is a compile error; oslo would loop until its depth guard).
 * - scope_types become action groups (`Action::"scope_types:system,project"`) with one forbid
 *   policy each, active when `context.enforce_scope`; a deprecated check string becomes extra
 *   permits active `unless { context.enforce_new_defaults }`. Both switches are request context
 *   set by the engine from its configuration, so one generated policy set serves all four modes.
 */

export class CedarCompileError extends Error {
  constructor(
    readonly rule: string,
    message: string,
  ) {
    super(`cedar: rule ${JSON.stringify(rule)}: ${message}`);
    this.name = 'CedarCompileError';
  }
}

/**
 * How each credential reaches the Cedar principal; `satisfies` keeps it in step with Credentials.
 * `restriction` and `attributes` are records, not oslo-comparable values: no oslo check string
 * reads them, so they are not principal attributes (the restriction's enforcement is its own).
 */
export const CREDENTIAL_ATTRIBUTES = {
  user_id: 'string',
  user_domain_id: 'string',
  project_id: 'optional',
  project_domain_id: 'optional',
  domain_id: 'optional',
  system_scope: 'optional',
  roles: 'set',
  role_ids: 'set',
  methods: 'set',
  audit_ids: 'set',
  is_admin_project: 'bool',
  trust_id: 'optional',
  app_cred_id: 'optional',
  identity_provider_id: 'optional',
  protocol_id: 'optional',
  service_user_id: 'optional',
  service_roles: 'set',
  is_admin: 'bool',
} as const satisfies Record<Exclude<keyof Credentials, 'token' | 'restriction' | 'attributes'>, 'string' | 'optional' | 'set' | 'bool'>;

/**
 * Keystone's token view (`token.domain.id`, ...) flattened into optional principal attributes.
 * Unlike the nullable credentials above, a missing one is not "None" to oslo but a missing key,
 * which makes the check false: so these compare only when present.
 */
export const TOKEN_ATTRIBUTES: Readonly<Record<string, string>> = {
  'token.user.id': 'token_user_id',
  'token.user.domain.id': 'token_user_domain_id',
  'token.domain.id': 'token_domain_id',
  'token.domain.name': 'token_domain_name',
  'token.project.id': 'token_project_id',
  'token.project.name': 'token_project_name',
  'token.project.domain.id': 'token_project_domain_id',
  'token.project.domain.name': 'token_project_domain_name',
};

type CredentialAttribute = keyof typeof CREDENTIAL_ATTRIBUTES;

export const PRINCIPAL_TYPE = 'User';
export const RESOURCE_TYPE = 'Target';
export const TARGET_VALUES_TYPE = 'TargetValues';
export const SCOPE_GROUP_PREFIX = 'scope_types:';

/** The forbid policies of restriction.cedar, by the limit they enforce. */
export const RESTRICTION_POLICY_IDS = { actions: 'restriction:actions', sourceCidrs: 'restriction:source_cidrs' } as const;

/** A Cedar boolean expression with constants folded, so `is_admin:1` (always false) disappears. */
type Expr =
  | { kind: 'const'; value: boolean }
  | { kind: 'atom'; text: string; wrapped?: boolean }
  | { kind: 'not'; expr: Expr }
  | { kind: 'and' | 'or'; exprs: Expr[] };

const TRUE: Expr = { kind: 'const', value: true };
const FALSE: Expr = { kind: 'const', value: false };
const atom = (text: string): Expr => ({ kind: 'atom', text });
/** An atom already in parentheses, so `!` needs none of its own. */
const wrapped = (text: string): Expr => ({ kind: 'atom', text: `(${text})`, wrapped: true });

function not(expr: Expr): Expr {
  if (expr.kind === 'const') return expr.value ? FALSE : TRUE;
  if (expr.kind === 'not') return expr.expr;
  return { kind: 'not', expr };
}

function junction(kind: 'and' | 'or', parts: readonly Expr[]): Expr {
  const absorbing = kind === 'or';
  const exprs: Expr[] = [];
  for (const part of parts) {
    if (part.kind === 'const') {
      if (part.value === absorbing) return part;
      continue;
    }
    if (part.kind === kind) exprs.push(...part.exprs);
    else exprs.push(part);
  }
  if (exprs.length === 0) return absorbing ? FALSE : TRUE;
  return exprs.length === 1 ? exprs[0]! : { kind, exprs };
}

const and = (...parts: Expr[]): Expr => junction('and', parts);
const or = (...parts: Expr[]): Expr => junction('or', parts);

function print(expr: Expr, nested = false): string {
  switch (expr.kind) {
    case 'const':
      return String(expr.value);
    case 'atom':
      return expr.text;
    case 'not':
      return expr.expr.kind === 'atom' && expr.expr.wrapped ? `!${expr.expr.text}` : `!(${print(expr.expr)})`;
    case 'and':
    case 'or': {
      const text = expr.exprs.map((e) => print(e, true)).join(expr.kind === 'and' ? ' && ' : ' || ');
      return nested ? `(${text})` : text;
    }
  }
}

/** A Cedar string literal; Cedar escapes like Rust (`\u{..}`), not like JSON (`\u....`). */
export function cedarString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (code < 0x20 || code === 0x7f) out += `\\u{${code.toString(16)}}`;
    else out += ch;
  }
  return `${out}"`;
}

const WHOLE_TEMPLATE = /^%\(([^)]+)\)s$/;

/** The right-hand side of a check: a literal, or one target key (guarded by `has`). */
type Match = { kind: 'literal'; value: string } | { kind: 'key'; key: string };

interface CompileState {
  readonly rules: ReadonlyMap<string, PolicyRule>;
  readonly targetKeys: Set<string>;
}

function matchOf(match: string, state: CompileState, rule: string): Match {
  const whole = WHOLE_TEMPLATE.exec(match);
  if (whole) {
    state.targetKeys.add(whole[1]!);
    return { kind: 'key', key: whole[1]! };
  }
  if (match.includes('%(')) {
    // Cedar cannot concatenate strings; no Keystone default mixes text and target values.
    throw new CedarCompileError(rule, `a match mixing text and target values is not supported: ${JSON.stringify(match)}`);
  }
  return { kind: 'literal', value: match };
}

/** Credential paths under `attributes.` (src/policy/pdp.ts Credentials.attributes). */
export const ATTRIBUTES_PREFIX = 'attributes.';
/** The context.target key of a caller attribute: `credentials.attributes.<name>`. */
export const ATTRIBUTE_TARGET_PREFIX = `credentials.${ATTRIBUTES_PREFIX}`;

function targetValue(key: string): string {
  return `context.target[${cedarString(key)}]`;
}

/** `match` as a Cedar string expression plus the guard that makes a missing key false. */
function withMatch(match: Match, body: (value: string, literal: string | undefined) => Expr): Expr {
  if (match.kind === 'literal') return body(cedarString(match.value), match.value);
  return and(atom(`context.target has ${cedarString(match.key)}`), body(targetValue(match.key), undefined));
}

/** Python literals oslo accepts on the left of a generic check, as str() renders them. */
function renderedLiteralLeft(left: string): string | undefined {
  const literal = literalLeft(left);
  return literal && pythonStr(literal.value);
}

function credentialCheck(left: string, match: Match, rule: string): Expr {
  const tokenAttribute = TOKEN_ATTRIBUTES[left];
  if (tokenAttribute !== undefined) {
    return withMatch(match, (value) => wrapped(`principal has ${tokenAttribute} && principal.${tokenAttribute} == ${value}`));
  }
  const path = left.split('.');
  const name = path[0]!;
  // Every other credential is a scalar or a list of strings, so a longer path finds nothing, and
  // a name Credentials does not have is missing: oslo says false to both.
  if (path.length > 1 || !Object.prototype.hasOwnProperty.call(CREDENTIAL_ATTRIBUTES, name)) return FALSE;
  const attribute = name as CredentialAttribute;
  const attr = `principal.${attribute}`;
  switch (CREDENTIAL_ATTRIBUTES[attribute]) {
    case 'string':
      return withMatch(match, (value) => atom(`${attr} == ${value}`));
    case 'optional':
      return withMatch(match, (value, literal) => {
        // if-then-else rather than `!has || ...`: Cedar's validator cannot follow `has` through a negation.
        if (literal === 'None') return wrapped(`if principal has ${attribute} then ${attr} == "None" else true`);
        if (literal !== undefined) return wrapped(`principal has ${attribute} && ${attr} == ${value}`);
        return wrapped(`if principal has ${attribute} then ${attr} == ${value} else ${value} == "None"`);
      });
    case 'bool':
      return withMatch(match, (value, literal) => {
        if (literal === 'True') return atom(attr);
        if (literal === 'False') return not(atom(attr));
        if (literal !== undefined) return FALSE;
        return wrapped(`(if ${attr} then "True" else "False") == ${value}`);
      });
    case 'set':
      if (attribute === 'roles') {
        // The principal's roles are lower-cased for role: checks; a generic check on them is
        // case-sensitive in oslo and would need the original names.
        throw new CedarCompileError(rule, `generic check ${JSON.stringify(left)} on role names is not supported; use role:`);
      }
      return withMatch(match, (value) => atom(`${attr}.contains(${value})`));
  }
}

function compileCheck(check: Check, state: CompileState, stack: readonly string[]): Expr {
  const rule = stack[stack.length - 1]!;
  switch (check.kind) {
    case 'true':
      return TRUE;
    case 'false':
      return FALSE;
    case 'not':
      return not(compileCheck(check.check, state, stack));
    case 'and':
      return and(...check.checks.map((c) => compileCheck(c, state, stack)));
    case 'or':
      return or(...check.checks.map((c) => compileCheck(c, state, stack)));
    case 'rule': {
      if (stack.includes(check.name)) {
        throw new CedarCompileError(rule, `rule cycle ${[...stack, check.name].join(' → ')}`);
      }
      const referenced = state.rules.get(check.name);
      if (!referenced) throw new CedarCompileError(rule, `refers to unknown rule ${JSON.stringify(check.name)}`);
      const { current, deprecated } = compileRule(referenced, state, [...stack, check.name]);
      return or(current, and(atom('!context.enforce_new_defaults'), deprecated));
    }
    case 'role': {
      const match = matchOf(check.match, state, rule);
      if (match.kind === 'key') {
        throw new CedarCompileError(rule, `role:${check.match} needs a case-insensitive comparison with a target value, which Cedar lacks`);
      }
      return atom(`principal.roles.contains(${cedarString(match.value.toLowerCase())})`);
    }
    case 'generic': {
      const match = matchOf(check.match, state, rule);
      if (check.left.startsWith(ATTRIBUTES_PREFIX) && check.left.length > ATTRIBUTES_PREFIX.length) {
        // Caller attributes (a workload token's claims) have open-ended names, so they travel
        // like target values: each one a rule names becomes an optional string of
        // context.target, filled from the credentials only (never from the request).
        const key = `credentials.${check.left}`;
        state.targetKeys.add(key);
        return and(atom(`context.target has ${cedarString(key)}`), withMatch(match, (value) => atom(`${targetValue(key)} == ${value}`)));
      }
      const literal = renderedLiteralLeft(check.left);
      if (literal === undefined) return credentialCheck(check.left, match, rule);
      return withMatch(match, (value, rendered) => {
        if (rendered !== undefined) return rendered === literal ? TRUE : FALSE;
        return atom(`${value} == ${cedarString(literal)}`);
      });
    }
  }
}

function parse(source: string, rule: string): Check {
  try {
    return parseCheck(source);
  } catch (error) {
    if (error instanceof PolicySyntaxError) throw new CedarCompileError(rule, error.message);
    throw error;
  }
}

function compileRule(rule: PolicyRule, state: CompileState, stack: readonly string[]): { current: Expr; deprecated: Expr } {
  return {
    current: compileCheck(parse(rule.check_str, rule.name), state, stack),
    deprecated: rule.deprecated === undefined ? FALSE : compileCheck(parse(rule.deprecated, rule.name), state, stack),
  };
}

function disjuncts(expr: Expr): Expr[] {
  if (expr.kind === 'const') return expr.value ? [expr] : [];
  return expr.kind === 'or' ? expr.exprs : [expr];
}

function permit(id: string, action: string, clauses: readonly string[]): string {
  const head = `@id(${cedarString(id)})\npermit (principal, action == Action::${cedarString(action)}, resource)`;
  return clauses.length === 0 ? `${head};` : `${head}\n${clauses.join('\n')};`;
}

/** The resource area a rule belongs to: the generated file it is written to. */
export function areaOf(name: string): string {
  if (name.startsWith('keystone_ts:')) return 'keystone-ts';
  if (!name.startsWith('identity:')) return 'base';
  const verb = name.slice('identity:'.length);
  const areas: readonly (readonly [RegExp, string])[] = [
    [/access_rule/, 'access-rules'],
    [/request_token|access_token|consumer/, 'oauth1'],
    [/application_credential/, 'application-credentials'],
    [/^get_auth_|_for_user$/, 'auth'],
    [/s3tokens|ec2tokens|token|revoke_event|revocation_list/, 'tokens'],
    [/credential/, 'credentials'],
    [/domain_config/, 'domain-configs'],
    [/policy_association|policy_for_endpoint|endpoints_for_policy|polic(y|ies)/, 'policies'],
    [/endpoint_group|endpoint_to_project|endpoint_from_project|endpoint_in_project|projects_for_endpoint|endpoints_for_project/, 'endpoint-filter'],
    [/identity_provider|mapping|protocol|service_provider/, 'federation'],
    [/grant/, 'grants'],
    [/role_assignment/, 'role-assignments'],
    [/trust/, 'trusts'],
    [/implied_role|role_inference|role/, 'roles'],
    [/limit/, 'limits'],
    [/endpoint|service|region/, 'catalog'],
    [/group/, 'groups'],
    [/project/, 'projects'],
    [/domain/, 'domains'],
    [/user/, 'users'],
  ];
  return areas.find(([pattern]) => pattern.test(verb))?.[1] ?? 'other';
}

export interface CompiledCedar {
  /** File name (`users.cedar`) → policy text, one file per resource area, plus `scope.cedar`. */
  readonly policyFiles: ReadonlyMap<string, string>;
  /** The schema, in Cedar's human-readable format. */
  readonly schema: string;
  /** Every target key some rule references, sorted: the keys the engine renders. */
  readonly targetKeys: readonly string[];
}

const HEADER = '// Generated by `node dist/src/policy/cedar-generate.js` from policies/keystone/default-policy.json; do not edit.\n';

function scopeGroup(scopeTypes: readonly string[]): string {
  return `${SCOPE_GROUP_PREFIX}${scopeTypes.join(',')}`;
}

function schemaText(rules: readonly PolicyRule[], targetKeys: readonly string[], groups: readonly string[]): string {
  const attributes = Object.entries(CREDENTIAL_ATTRIBUTES).map(([name, kind]) => {
    const type = kind === 'set' ? 'Set<String>' : kind === 'bool' ? 'Bool' : 'String';
    return `  ${name}${kind === 'optional' ? '?' : ''}: ${type},`;
  });
  const lines = [
    HEADER,
    '// The token: credentials as oslo.policy sees them. Optional attributes are absent when None;',
    '// roles are lower-cased names; scope is "system", "domain" or "project" (unscoped counts as project).',
    `entity ${PRINCIPAL_TYPE} = {`,
    ...attributes,
    ...Object.values(TOKEN_ATTRIBUTES).map((name) => `  ${name}?: String,`),
    '  scope: String,',
    '};',
    '',
    '// What the request is about; the values policies compare are in context.target.',
    `entity ${RESOURCE_TYPE};`,
    '',
    '// oslo target keys the rules reference, rendered as Python str(); absent when the target lacks the key.',
    `type ${TARGET_VALUES_TYPE} = {`,
    ...targetKeys.map((key) => `  ${cedarString(key)}?: String,`),
    '};',
    '',
    'type Context = {',
    '  enforce_scope: Bool,',
    '  enforce_new_defaults: Bool,',
    `  target: ${TARGET_VALUES_TYPE},`,
    '  // A restricted token: whether its restriction lists the action and its ranges hold the',
    '  // request\'s source (src/policy/restriction.ts); absent when it sets no such limit.',
    `  ${cedarString(RESTRICTION_FACTS.actions)}?: Bool,`,
    `  ${cedarString(RESTRICTION_FACTS.sourceCidrs)}?: Bool,`,
    '};',
    '',
    '// One group per scope_types list; scope.cedar forbids other token scopes when enforce_scope is on.',
    ...groups.map((group) => `action ${cedarString(group)};`),
    '',
    '// One action per Keystone policy rule.',
    ...rules.map((rule) => {
      const memberOf = rule.scope_types && rule.scope_types.length > 0 ? ` in [${cedarString(scopeGroup(rule.scope_types))}]` : '';
      return `action ${cedarString(rule.name)}${memberOf} appliesTo { principal: ${PRINCIPAL_TYPE}, resource: ${RESOURCE_TYPE}, context: Context };`;
    }),
  ];
  return `${lines.join('\n')}\n`;
}

/** Compiles a rule set (Keystone's defaults) into Cedar policies and their schema. */
export function compileCedar(rules: readonly PolicyRule[]): CompiledCedar {
  const byName = new Map(rules.map((rule) => [rule.name, rule]));
  const state: CompileState = { rules: byName, targetKeys: new Set() };
  const areas = new Map<string, string[]>();
  for (const rule of rules) {
    const { current, deprecated } = compileRule(rule, state, [rule.name]);
    const policies: string[] = [];
    const seen = new Set<string>();
    disjuncts(current).forEach((expr, i) => {
      const text = print(expr);
      seen.add(text);
      policies.push(permit(`${rule.name}/${i + 1}`, rule.name, expr.kind === 'const' ? [] : [`when { ${text} }`]));
    });
    // A deprecated alternative the current rule already grants adds nothing.
    disjuncts(deprecated)
      .filter((expr) => !seen.has(print(expr)))
      .forEach((expr, i) => {
        const clauses = ['unless { context.enforce_new_defaults }'];
        if (expr.kind !== 'const') clauses.push(`when { ${print(expr)} }`);
        policies.push(permit(`${rule.name}/deprecated/${i + 1}`, rule.name, clauses));
      });
    const comment = [`// ${rule.name}: ${rule.check_str || '(empty: always)'}`];
    if (rule.deprecated !== undefined) comment.push(`//   deprecated: ${rule.deprecated}`);
    if (policies.length === 0) comment.push('//   (never true: no permit)');
    const area = areaOf(rule.name);
    let entries = areas.get(area);
    if (!entries) areas.set(area, (entries = []));
    entries.push([...comment, ...policies].join('\n'));
  }

  const groups = [...new Set(rules.filter((r) => r.scope_types && r.scope_types.length > 0).map((r) => scopeGroup(r.scope_types!)))].sort();
  const scopePolicies = groups.map((group) => {
    const allowed = group.slice(SCOPE_GROUP_PREFIX.length).split(',');
    return [
      `@id(${cedarString(group)})`,
      `forbid (principal, action in Action::${cedarString(group)}, resource)`,
      'when { context.enforce_scope }',
      `unless { ${allowed.map((scope) => `principal.scope == ${cedarString(scope)}`).join(' || ')} };`,
    ].join('\n');
  });

  const policyFiles = new Map<string, string>();
  for (const area of [...areas.keys()].sort()) policyFiles.set(`${area}.cedar`, `${HEADER}\n${areas.get(area)!.join('\n\n')}\n`);
  const fact = (key: string) => `context has ${cedarString(key)} && !context[${cedarString(key)}]`;
  policyFiles.set(
    'restriction.cedar',
    `${HEADER}// A restricted token is refused every action its restriction does not list and requests from\n` +
      `// outside its source ranges, whatever the permits say. Cedar cannot match patterns or ranges held\n` +
      `// as data, so the engine supplies the two facts (src/policy/restriction.ts).\n\n` +
      `@id(${cedarString(RESTRICTION_POLICY_IDS.actions)})\nforbid (principal, action, resource)\nwhen { ${fact(RESTRICTION_FACTS.actions)} };\n\n` +
      `@id(${cedarString(RESTRICTION_POLICY_IDS.sourceCidrs)})\nforbid (principal, action, resource)\nwhen { ${fact(RESTRICTION_FACTS.sourceCidrs)} };\n`,
  );
  policyFiles.set('scope.cedar', `${HEADER}// scope_types: with enforce_scope, a token of another scope is refused whatever the permits say.\n\n${scopePolicies.join('\n\n')}\n`);
  const targetKeys = [...state.targetKeys].sort();
  return { policyFiles, schema: schemaText(rules, targetKeys, groups), targetKeys };
}

/**
 * oslo.policy check strings: parser and evaluator.
 *
 * Keystone's default rules and every operator's policy.yaml are written in this language, so it is
 * the common ground between Keystone and the Rego/Cedar engines: a parsed rule is an AST that can
 * be evaluated directly (as here) or compiled onto another engine. The semantics follow
 * oslo_policy/_checks.py exactly, including its quirks (spec 4.1):
 * - `role:X` compares case-insensitively against the credential's role names;
 * - `a:%(b)s` compares `str(creds[a])` with the target value rendered the Python way
 *   (None → "None", True → "True"), and a missing target key makes the check false;
 * - a quoted or `None`/`True` literal on the left is compared with the rendered match;
 * - `and` binds tighter than `or`; an empty rule is always true; `@` true, `!` false.
 */

export type Check =
  | { kind: 'true' }
  | { kind: 'false' }
  | { kind: 'not'; check: Check }
  | { kind: 'and'; checks: Check[] }
  | { kind: 'or'; checks: Check[] }
  | { kind: 'rule'; name: string }
  | { kind: 'role'; match: string }
  | { kind: 'generic'; left: string; match: string };

export class PolicySyntaxError extends Error {
  constructor(
    readonly rule: string,
    message: string,
  ) {
    super(`policy rule ${JSON.stringify(rule)}: ${message}`);
    this.name = 'PolicySyntaxError';
  }
}

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  for (const word of text.split(/\s+/)) {
    if (word === '') continue;
    let rest = word;
    while (rest.startsWith('(')) {
      tokens.push('(');
      rest = rest.slice(1);
    }
    let closing = 0;
    while (rest.endsWith(')')) {
      closing += 1;
      rest = rest.slice(0, -1);
    }
    if (rest !== '') tokens.push(rest);
    for (let i = 0; i < closing; i += 1) tokens.push(')');
  }
  return tokens;
}

function parseAtom(token: string, source: string): Check {
  if (token === '@') return { kind: 'true' };
  if (token === '!') return { kind: 'false' };
  const colon = token.indexOf(':');
  if (colon <= 0) throw new PolicySyntaxError(source, `unparsable check ${JSON.stringify(token)}`);
  const left = token.slice(0, colon);
  const match = token.slice(colon + 1);
  if (left === 'rule') return { kind: 'rule', name: match };
  if (left === 'role') return { kind: 'role', match };
  if (left === 'http' || left === 'https') {
    throw new PolicySyntaxError(source, 'remote http checks are not supported');
  }
  return { kind: 'generic', left, match };
}

/** Parses one check string into an AST; an empty string is "always allow", like oslo.policy. */
export function parseCheck(source: string): Check {
  const tokens = tokenize(source);
  if (tokens.length === 0) return { kind: 'true' };
  let pos = 0;
  const peek = (): string | undefined => tokens[pos];

  const parseOr = (): Check => {
    const checks = [parseAnd()];
    while (peek() === 'or') {
      pos += 1;
      checks.push(parseAnd());
    }
    return checks.length === 1 ? checks[0]! : { kind: 'or', checks };
  };
  const parseAnd = (): Check => {
    const checks = [parseNot()];
    while (peek() === 'and') {
      pos += 1;
      checks.push(parseNot());
    }
    return checks.length === 1 ? checks[0]! : { kind: 'and', checks };
  };
  const parseNot = (): Check => {
    const token = peek();
    if (token === undefined) throw new PolicySyntaxError(source, 'unexpected end of rule');
    if (token === 'not') {
      pos += 1;
      return { kind: 'not', check: parseNot() };
    }
    if (token === '(') {
      pos += 1;
      const inner = parseOr();
      if (peek() !== ')') throw new PolicySyntaxError(source, 'missing closing parenthesis');
      pos += 1;
      return inner;
    }
    if (token === ')' || token === 'and' || token === 'or') {
      throw new PolicySyntaxError(source, `unexpected ${JSON.stringify(token)}`);
    }
    pos += 1;
    return parseAtom(token, source);
  };

  const check = parseOr();
  if (pos !== tokens.length) throw new PolicySyntaxError(source, `unexpected ${JSON.stringify(tokens[pos])}`);
  return check;
}

/** Every rule name a check refers to, for load-time validation of rule sets. */
export function referencedRules(check: Check, into = new Set<string>()): Set<string> {
  switch (check.kind) {
    case 'rule':
      into.add(check.name);
      break;
    case 'not':
      referencedRules(check.check, into);
      break;
    case 'and':
    case 'or':
      for (const c of check.checks) referencedRules(c, into);
      break;
    default:
      break;
  }
  return into;
}

/**
 * Refuses rule sets whose `rule:` references form a cycle. oslo.policy would recurse until
 * Python's stack gives out (a 500 in Keystone); here every engine refuses such a file at load.
 */
export function assertAcyclic(checks: ReadonlyMap<string, Check>): void {
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, trail: readonly string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') throw new PolicySyntaxError(name, `rules refer to each other in a cycle: ${[...trail, name].join(' → ')}`);
    state.set(name, 'visiting');
    for (const ref of referencedRules(checks.get(name)!)) if (checks.has(ref)) visit(ref, [...trail, name]);
    state.set(name, 'done');
  };
  for (const name of checks.keys()) visit(name, []);
}

/** Python's str() of a JSON-ish value, as oslo.policy compares everything as strings. */
export function pythonStr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(value);
  return JSON.stringify(value);
}

const TEMPLATE = /%\(([^)]+)\)s/g;

/** `match % target`: undefined when a referenced key is missing (oslo returns False then). */
export function renderMatch(match: string, target: Readonly<Record<string, unknown>>): string | undefined {
  let missing = false;
  const rendered = match.replace(TEMPLATE, (_all, key: string) => {
    if (!Object.prototype.hasOwnProperty.call(target, key)) {
      missing = true;
      return '';
    }
    return pythonStr(target[key]);
  });
  return missing ? undefined : rendered;
}

/** ast.literal_eval for the literals that appear on the left of generic checks. */
export function literalLeft(left: string): { value: unknown } | undefined {
  if (left === 'None') return { value: null };
  if (left === 'True') return { value: true };
  if (left === 'False') return { value: false };
  const quoted = /^'(.*)'$|^"(.*)"$/.exec(left);
  if (quoted) return { value: quoted[1] ?? quoted[2] };
  if (/^-?\d+$/.test(left)) return { value: Number(left) };
  return undefined;
}

function findInCreds(value: unknown, path: readonly string[], match: string): boolean {
  if (path.length === 0) return match === pythonStr(value);
  if (value === null || typeof value !== 'object') return false;
  const [key, ...rest] = path;
  if (!Object.prototype.hasOwnProperty.call(value, key!)) return false;
  const next = (value as Record<string, unknown>)[key!];
  if (Array.isArray(next)) return next.some((item) => findInCreds(item, rest, match));
  return findInCreds(next, rest, match);
}

export interface OsloContext {
  /** Flattened target: `target.user.domain_id`, path variables, `request_body.*`... */
  readonly target: Readonly<Record<string, unknown>>;
  /** Credentials as Keystone builds them (user_id, roles by name, system_scope, token, ...). */
  readonly creds: Readonly<Record<string, unknown>> & { roles?: readonly string[] };
  readonly rules: ReadonlyMap<string, Check>;
}

export function evaluate(check: Check, ctx: OsloContext, depth = 0): boolean {
  // A rule set that refers to itself would recurse forever; oslo has no guard, we stop at 32.
  if (depth > 32) return false;
  switch (check.kind) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'not':
      return !evaluate(check.check, ctx, depth);
    case 'and':
      return check.checks.every((c) => evaluate(c, ctx, depth));
    case 'or':
      return check.checks.some((c) => evaluate(c, ctx, depth));
    case 'rule': {
      const rule = ctx.rules.get(check.name);
      return rule !== undefined && evaluate(rule, ctx, depth + 1);
    }
    case 'role': {
      const match = renderMatch(check.match, ctx.target);
      if (match === undefined || !ctx.creds.roles) return false;
      const wanted = match.toLowerCase();
      return ctx.creds.roles.some((r) => r.toLowerCase() === wanted);
    }
    case 'generic': {
      const match = renderMatch(check.match, ctx.target);
      if (match === undefined) return false;
      const literal = literalLeft(check.left);
      if (literal) return match === pythonStr(literal.value);
      return findInCreds(ctx.creds, check.left.split('.'), match);
    }
  }
}

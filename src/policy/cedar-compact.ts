/**
 * The compact request form for cedar-wasm. cedar-wasm parses each request from JSON, and every
 * entity, attribute and record level costs: about 25 µs for an empty request, 120 µs for one
 * carrying the principal and action entities Keystone's rules need. Since each action has its own
 * policy set (cedar-engine.ts), that set can be rewritten once so requests carry no entities and
 * a single flat context, and so policies the configuration switches turn off are not evaluated.
 */
import type * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { RESTRICTION_FACTS } from './restriction.js';

const RESTRICTION_FACT_KEYS: ReadonlySet<string> = new Set(Object.values(RESTRICTION_FACTS));

/** Where principal attributes go in the compact context: keys no target key takes. */
export const PRINCIPAL_KEY_PREFIX = 'principal.';

export interface CompactPolicySet {
  readonly policies: Record<string, cedar.PolicyJson>;
  /** Principal attributes the surviving policies read (unprefixed names). */
  readonly attributes: readonly string[];
  /** Target keys the surviving policies read. */
  readonly targetKeys: readonly string[];
  /** Whether the surviving policies read the restriction's facts (src/policy/restriction.ts). */
  readonly restrictionFacts: boolean;
  /** Set attributes the policies only test with contains("literal"): only those members matter. */
  readonly setFilters: ReadonlyMap<string, ReadonlySet<string>>;
}

class NotCompactable extends Error {}

type Node = Record<string, unknown>;

const isObject = (value: unknown): value is Node => value !== null && typeof value === 'object' && !Array.isArray(value);
const isVar = (node: unknown, name: string): boolean => isObject(node) && node['Var'] === name;
const isBool = (node: unknown): node is { Value: boolean } => isObject(node) && typeof node['Value'] === 'boolean';
const attrAccess = (node: unknown, op: '.' | 'has'): { left: unknown; attr: string } | undefined => {
  const access = isObject(node) ? node[op] : undefined;
  return isObject(access) && typeof access['attr'] === 'string' ? (access as { left: unknown; attr: string }) : undefined;
};

/**
 * Rebuilds an expression: `before` may replace a node outright (its children are then not
 * visited), `after` sees each node once its children are rebuilt. Literals and record keys are
 * left alone.
 */
function transform(node: unknown, before: (node: Node) => unknown, after: (node: Node) => unknown): unknown {
  if (Array.isArray(node)) return node.map((item) => transform(item, before, after));
  if (!isObject(node) || 'Value' in node) return node;
  const replaced = before(node);
  if (replaced !== undefined) return replaced;
  if ('Record' in node) {
    // A record literal's keys are names, not operators, whatever they spell.
    const fields = node['Record'] as Node;
    return after({ Record: Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, transform(value, before, after)])) });
  }
  return after(Object.fromEntries(Object.entries(node).map(([key, value]) => [key, transform(value, before, after)])));
}

const unchanged = (node: Node): Node => node;
const descend = (): undefined => undefined;

/**
 * principal.X / principal has X                 → context["principal.X"] / context has "principal.X"
 * context.target["k"] / context.target has "k"  → context["k"] / context has "k"
 * context.enforce_scope, context.enforce_new_defaults → the configured constants
 * The principal's attributes are the same values under another name and the switches are fixed
 * per engine, so every decision is unchanged. Anything else needing an entity or the context as
 * a whole (a bare `principal`, `action` or `context`) is not compactable.
 */
function rewrite(body: unknown, switches: Readonly<Record<string, boolean>>): unknown {
  const replace = (node: Node): unknown => {
    for (const op of ['.', 'has'] as const) {
      const access = attrAccess(node, op);
      if (!access) continue;
      if (access.attr.startsWith(PRINCIPAL_KEY_PREFIX) && !isVar(access.left, 'principal')) throw new NotCompactable(access.attr);
      if (isVar(access.left, 'principal')) return { [op]: { left: { Var: 'context' }, attr: PRINCIPAL_KEY_PREFIX + access.attr } };
      if (isVar(access.left, 'context') && Object.prototype.hasOwnProperty.call(switches, access.attr)) {
        return { Value: op === 'has' ? true : switches[access.attr]! };
      }
      // The restriction's facts are top-level context keys in both forms.
      if (isVar(access.left, 'context') && RESTRICTION_FACT_KEYS.has(access.attr)) return node;
      const inner = attrAccess(access.left, '.');
      if (inner && isVar(inner.left, 'context') && inner.attr === 'target') return { [op]: { left: { Var: 'context' }, attr: access.attr } };
    }
    for (const name of ['principal', 'context', 'action']) if (isVar(node, name)) throw new NotCompactable(name);
    return undefined;
  };
  return transform(body, replace, unchanged);
}

/**
 * Folds boolean constants (the switches, once substituted). Cedar's `&&` and `||` short-circuit
 * left to right, so `x && false` is only "false" up to an error in x; an erroring policy is never
 * satisfied either, so the decision is the same and only an error diagnostic can disappear.
 */
function fold(body: unknown): unknown {
  const simplify = (node: Node): unknown => {
    const unary = node['!'] as { arg: unknown } | undefined;
    if (unary && isBool(unary.arg)) return { Value: !unary.arg.Value };
    for (const [op, absorbing] of [['&&', false], ['||', true]] as const) {
      const pair = node[op] as { left: unknown; right: unknown } | undefined;
      if (!pair) continue;
      if (isBool(pair.left)) return pair.left.Value === absorbing ? pair.left : pair.right;
      if (isBool(pair.right)) return pair.right.Value === absorbing ? pair.right : pair.left;
    }
    const branch = node['if-then-else'] as { if: unknown; then: unknown; else: unknown } | undefined;
    if (branch && isBool(branch.if)) return branch.if.Value ? branch.then : branch.else;
    return node;
  };
  return transform(body, descend, simplify);
}

/** The policy with its constant clauses removed, or undefined when a clause can never hold. */
function prune(policy: cedar.PolicyJson): cedar.PolicyJson | undefined {
  const conditions: cedar.Clause[] = [];
  for (const clause of policy.conditions) {
    if (isBool(clause.body)) {
      if (clause.body.Value !== (clause.kind === 'when')) return undefined;
      continue;
    }
    conditions.push(clause);
  }
  return { ...policy, conditions };
}

/** What the compact policies read: principal attributes, target keys, contains-only sets. */
function usage(policies: readonly cedar.PolicyJson[], setAttributes: ReadonlySet<string>) {
  const attributes = new Set<string>();
  const targetKeys = new Set<string>();
  const literals = new Map<string, Set<string>>();
  const wholeSets = new Set<string>();
  const contextKey = (node: unknown): string | undefined => {
    for (const op of ['.', 'has'] as const) {
      const access = attrAccess(node, op);
      if (access && isVar(access.left, 'context')) return access.attr;
    }
    return undefined;
  };
  let restrictionFacts = false;
  const note = (key: string, wholeUse: boolean) => {
    if (RESTRICTION_FACT_KEYS.has(key)) return void (restrictionFacts = true);
    if (!key.startsWith(PRINCIPAL_KEY_PREFIX)) return void targetKeys.add(key);
    const name = key.slice(PRINCIPAL_KEY_PREFIX.length);
    attributes.add(name);
    if (wholeUse && setAttributes.has(name)) wholeSets.add(name);
  };
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!isObject(node) || 'Value' in node) return;
    const contains = node['contains'] as { left: unknown; right: unknown } | undefined;
    const setKey = contains ? attrAccess(contains.left, '.') : undefined;
    if (contains && setKey && isVar(setKey.left, 'context') && isObject(contains.right) && typeof contains.right['Value'] === 'string') {
      note(setKey.attr, false);
      const name = setKey.attr.slice(PRINCIPAL_KEY_PREFIX.length);
      if (setKey.attr.startsWith(PRINCIPAL_KEY_PREFIX)) (literals.get(name) ?? literals.set(name, new Set()).get(name)!).add(contains.right['Value']);
      return;
    }
    const key = contextKey(node);
    if (key !== undefined) return note(key, attrAccess(node, '.') !== undefined);
    Object.values(node).forEach(walk);
  };
  for (const policy of policies) policy.conditions.forEach((clause) => walk(clause.body));
  const setFilters = new Map<string, ReadonlySet<string>>();
  for (const name of setAttributes) if (attributes.has(name) && !wholeSets.has(name)) setFilters.set(name, literals.get(name) ?? new Set());
  return { attributes: [...attributes], targetKeys: [...targetKeys], setFilters, restrictionFacts };
}

/**
 * Rewrites the policies of one action's set for the compact request, or answers undefined when
 * one of them needs the entity-carrying form. The set is only ever asked about `action`, so each
 * action constraint (`==` it, or `in` one of its groups) becomes `action == Action::"<action>"`
 * and the action entity with its groups need not be sent.
 */
export function compactPolicySet(
  policies: readonly (readonly [string, cedar.PolicyJson])[],
  action: string,
  switches: Readonly<Record<string, boolean>>,
  setAttributes: ReadonlySet<string>,
): CompactPolicySet | undefined {
  const compact: Record<string, cedar.PolicyJson> = {};
  try {
    for (const [id, policy] of policies) {
      const rewritten = prune({
        ...policy,
        action: { op: '==', entity: { type: 'Action', id: action } },
        conditions: policy.conditions.map((clause) => ({ ...clause, body: fold(rewrite(clause.body, switches)) as cedar.Expr })),
      });
      if (rewritten) compact[id] = rewritten;
    }
  } catch (error) {
    if (error instanceof NotCompactable) return undefined;
    throw error;
  }
  return { policies: compact, ...usage(Object.values(compact), setAttributes) };
}

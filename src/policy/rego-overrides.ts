/**
 * An operator's policy file (rule name → check string) compiled onto the Rego engine as data.
 *
 * The committed Wasm cannot change at run time (start-up never needs the OPA CLI), so the
 * generated packages consult `data.overrides[action]` first (see overrideHelpersRego in
 * rego-compile.ts). Every action whose outcome the file can change, the overridden ones and
 * those whose check refers to an overridden rule through any chain of `rule:` references, gets
 * its whole check in disjunctive normal form: `rule:` references inlined, negations pushed onto
 * the atoms, `@`/`!` folded. Rego then needs no recursion (which it forbids) to evaluate it.
 */
import { type Check, literalLeft, parseCheck, PolicySyntaxError, pythonStr, referencedRules } from './oslo.js';
import type { PolicyRule } from './pdp.js';
import { MAX_CREDENTIAL_PATH, MAX_TARGET_PATH } from './rego-compile.js';

/** A piece of `match`: literal text, or a target key to render (`{root, path}`). */
export type MatchPart = string | { readonly root: string; readonly path: readonly string[] };

export type OverrideAtom =
  | { readonly kind: 'role'; readonly match: readonly MatchPart[]; readonly negate?: true }
  | { readonly kind: 'literal'; readonly value: string; readonly match: readonly MatchPart[]; readonly negate?: true }
  | { readonly kind: 'creds'; readonly path: readonly string[]; readonly match: readonly MatchPart[]; readonly negate?: true };

export interface CompiledOverride {
  /** The violation message, worded as the reference engine words it. */
  readonly requires: string;
  /** OR of ANDs; `[]` never holds, `[[]]` always does. */
  readonly clauses: readonly (readonly OverrideAtom[])[];
}

/** A policy file whose rules expand past this many clauses is refused rather than slowing every decision. */
export const MAX_OVERRIDE_CLAUSES = 4096;

type Literal = { readonly atom: OverrideAtom; readonly key: string };
type Dnf = Literal[][];

/** Splits a flattened-target key as the generated packages read it (rego-compile targetValue). */
function targetRef(key: string, rule: string): MatchPart {
  const [head, ...rest] = key.split('.');
  if ((head === 'target' || head === 'request_body' || head === 'filter_attr') && rest.length > 0) {
    if (rest.length > MAX_TARGET_PATH) throw new PolicySyntaxError(rule, `target key ${key} is deeper than ${MAX_TARGET_PATH} levels`);
    return { root: head, path: rest };
  }
  return { root: 'path', path: [key] };
}

function matchParts(match: string, rule: string): MatchPart[] {
  const parts: MatchPart[] = [];
  let last = 0;
  for (const m of match.matchAll(/%\(([^)]+)\)s/g)) {
    if (m.index > last) parts.push(match.slice(last, m.index));
    parts.push(targetRef(m[1]!, rule));
    last = m.index + m[0].length;
  }
  if (last < match.length || parts.length === 0) parts.push(match.slice(last));
  return parts;
}

const TRUE: Dnf = [[]];
const FALSE: Dnf = [];

class DnfBuilder {
  constructor(
    private readonly checks: ReadonlyMap<string, Check>,
    private readonly owner: string,
  ) {}

  build(check: Check, negate: boolean, trail: readonly string[]): Dnf {
    switch (check.kind) {
      case 'true':
        return negate ? FALSE : TRUE;
      case 'false':
        return negate ? TRUE : FALSE;
      case 'not':
        return this.build(check.check, !negate, trail);
      case 'and':
        return negate ? this.or(check.checks.map((c) => this.build(c, true, trail))) : this.and(check.checks.map((c) => this.build(c, false, trail)));
      case 'or':
        return negate ? this.and(check.checks.map((c) => this.build(c, true, trail))) : this.or(check.checks.map((c) => this.build(c, false, trail)));
      case 'rule': {
        // oslo: a reference to a rule that does not exist is false.
        const target = this.checks.get(check.name);
        if (!target) return negate ? TRUE : FALSE;
        if (trail.includes(check.name)) throw new PolicySyntaxError(this.owner, `rules refer to each other in a cycle: ${[...trail, check.name].join(' → ')}`);
        return this.build(target, negate, [...trail, check.name]);
      }
      case 'role':
        return [[this.literal({ kind: 'role', match: matchParts(check.match, this.owner) }, negate)]];
      case 'generic': {
        const literal = literalLeft(check.left);
        const match = matchParts(check.match, this.owner);
        if (literal) {
          const value = pythonStr(literal.value);
          // A constant comparison is decided here.
          if (match.every((p) => typeof p === 'string')) return (match.join('') === value) !== negate ? TRUE : FALSE;
          return [[this.literal({ kind: 'literal', value, match }, negate)]];
        }
        const path = check.left.split('.');
        if (path.length > MAX_CREDENTIAL_PATH) throw new PolicySyntaxError(this.owner, `credential path ${check.left} is longer than ${MAX_CREDENTIAL_PATH}`);
        return [[this.literal({ kind: 'creds', path, match }, negate)]];
      }
    }
  }

  private literal(atom: OverrideAtom, negate: boolean): Literal {
    const final = negate ? { ...atom, negate: true as const } : atom;
    return { atom: final, key: JSON.stringify(final) };
  }

  private or(parts: Dnf[]): Dnf {
    const clauses = parts.flat();
    this.limit(clauses.length);
    return clauses;
  }

  private and(parts: Dnf[]): Dnf {
    let result: Dnf = TRUE;
    for (const part of parts) {
      this.limit(result.length * part.length);
      const next: Dnf = [];
      for (const left of result) {
        for (const right of part) {
          const merged = new Map(left.map((l) => [l.key, l]));
          for (const l of right) merged.set(l.key, l);
          next.push([...merged.values()]);
        }
      }
      result = next;
    }
    return result;
  }

  private limit(clauses: number): void {
    if (clauses > MAX_OVERRIDE_CLAUSES) {
      throw new PolicySyntaxError(this.owner, `expands to more than ${MAX_OVERRIDE_CLAUSES} alternatives; simplify the check string`);
    }
  }
}

/** Drops contradictory clauses (an atom and its negation) and duplicates. */
function tidy(dnf: Dnf): OverrideAtom[][] {
  const seen = new Set<string>();
  const out: OverrideAtom[][] = [];
  for (const clause of dnf) {
    const keys = new Set(clause.map((l) => l.key));
    const contradictory = clause.some((l) => {
      const { negate, ...positive } = l.atom;
      return negate && keys.has(JSON.stringify(positive));
    });
    if (contradictory) continue;
    const key = clause.map((l) => l.key).sort().join('\n');
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(clause.map((l) => l.atom));
  }
  return out;
}

/**
 * The data the generated packages read for `overrides` over `rules`: the same effective rule
 * set the oslo reference engine builds (createOsloEngine), restricted to the actions it changes.
 */
export function compileRegoOverrides(
  rules: readonly PolicyRule[],
  overrides: Readonly<Record<string, string>>,
  enforceNewDefaults: boolean,
): Record<string, CompiledOverride> {
  const sources = new Map<string, string>();
  for (const rule of rules) {
    sources.set(rule.name, !enforceNewDefaults && rule.deprecated ? `(${rule.check_str || '@'}) or (${rule.deprecated})` : rule.check_str);
  }
  for (const [name, source] of Object.entries(overrides)) {
    if (!sources.has(name) && name.includes(':')) throw new PolicySyntaxError(name, 'unknown rule name in the policy file');
    sources.set(name, source);
  }
  const checks = new Map([...sources].map(([name, source]) => [name, parseCheck(source)]));
  for (const [name, check] of checks) {
    for (const ref of referencedRules(check)) if (!checks.has(ref)) throw new PolicySyntaxError(name, `refers to unknown rule ${JSON.stringify(ref)}`);
  }

  // Every rule whose outcome the file changes: overridden, or reaching an overridden rule.
  const changed = new Set(Object.keys(overrides));
  for (let grew = true; grew; ) {
    grew = false;
    for (const [name, check] of checks) {
      if (changed.has(name)) continue;
      if ([...referencedRules(check)].some((ref) => changed.has(ref))) {
        changed.add(name);
        grew = true;
      }
    }
  }

  const compiled: Record<string, CompiledOverride> = {};
  for (const rule of rules) {
    if (!changed.has(rule.name)) continue;
    const dnf = new DnfBuilder(checks, rule.name).build(checks.get(rule.name)!, false, [rule.name]);
    compiled[rule.name] = { requires: `${rule.name} requires ${sources.get(rule.name)!}`, clauses: tidy(dnf) };
  }
  return compiled;
}

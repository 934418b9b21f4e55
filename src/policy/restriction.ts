import type { BlockList } from 'node:net';
import { allowList, sourceAllowed } from '../common/cidr.js';
import type { Credentials, CredentialsRestriction, Violation } from './pdp.js';

/**
 * A restricted token's limits (credentials.restriction) as every engine enforces them on every
 * action: the action must match one of `actions` (`*` is any run of characters, nothing else is
 * special) and the request must come from inside one of `source_cidrs`; null lists limit nothing.
 * The oslo engine applies this directly, the Rego policies with glob.match and net.cidr_contains;
 * Cedar cannot match patterns or ranges held as data, so its policies forbid on the two facts
 * computed here (decision 0009).
 */
export const RESTRICTION_FACTS = { actions: 'restriction.action_allowed', sourceCidrs: 'restriction.source_allowed' } as const;

const patterns = new Map<string, RegExp>();

function patternRegExp(pattern: string): RegExp {
  let regexp = patterns.get(pattern);
  if (!regexp) {
    regexp = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
    if (patterns.size > 10_000) patterns.clear();
    patterns.set(pattern, regexp);
  }
  return regexp;
}

export function actionMatches(actions: readonly string[], action: string): boolean {
  return actions.some((pattern) => patternRegExp(pattern).test(action));
}

const ranges = new WeakMap<readonly string[], BlockList>();

function sourceInside(cidrs: readonly string[], source: string | undefined): boolean {
  let list = ranges.get(cidrs);
  if (!list) ranges.set(cidrs, (list = allowList(cidrs)));
  return sourceAllowed(list, source);
}

/** The two facts Cedar's restriction policies read; absent when the restriction sets no such limit. */
export function restrictionFacts(restriction: CredentialsRestriction, action: string, source: string | undefined): Record<string, boolean> {
  const facts: Record<string, boolean> = {};
  if (restriction.actions) facts[RESTRICTION_FACTS.actions] = actionMatches(restriction.actions, action);
  if (restriction.source_cidrs) facts[RESTRICTION_FACTS.sourceCidrs] = sourceInside(restriction.source_cidrs, source);
  return facts;
}

export function actionViolation(restriction: CredentialsRestriction, action: string): Violation {
  return { field: 'credentials.restriction.actions', message: `token restriction ${restriction.id} does not allow ${action}` };
}

export function sourceViolation(restriction: CredentialsRestriction, source: string | undefined): Violation {
  return { field: 'credentials.restriction.source_cidrs', message: `token restriction ${restriction.id} does not allow requests from ${source ?? 'an unknown address'}` };
}

/** What the restriction refuses for this request, if anything (actions first). */
export function restrictionViolation(credentials: Credentials, action: string, source: string | undefined): Violation | undefined {
  const restriction = credentials.restriction;
  if (!restriction) return undefined;
  if (restriction.actions && !actionMatches(restriction.actions, action)) return actionViolation(restriction, action);
  if (restriction.source_cidrs && !sourceInside(restriction.source_cidrs, source)) return sourceViolation(restriction, source);
  return undefined;
}

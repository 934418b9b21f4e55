/**
 * The limit enforcement models of keystone/limit/models: `flat` checks nothing across the
 * project tree; `strict_two_level` keeps the tree two levels deep (domain, then projects) and a
 * project's limit no bigger than its domain's.
 */
import { KeystoneError } from '../common/errors.js';
import type { LimitKey, LimitRow, RegisteredLimitRow } from './store.js';

/**
 * Keystone's InvalidLimit is a Forbidden built from its template, so its reason is shown even
 * though it is a security error (only a custom message would be hidden).
 */
export class InvalidLimit extends KeystoneError {
  constructor(reason: string) {
    super(403, 'Forbidden', `Invalid resource limit: ${reason}.`);
  }
}

/** A limit as the model sees it: the request's values over the stored ones. */
export interface CheckedLimit extends LimitKey {
  readonly project_id: string | null;
  readonly domain_id: string | null;
  readonly resource_limit: number;
}

/** What a model may read: the stored limits and the project tree. */
export interface HierarchyView {
  findLimits(owner: { project_id: string } | { domain_id: string }, key: LimitKey): Promise<LimitRow[]>;
  findRegisteredLimits(key: LimitKey): Promise<RegisteredLimitRow[]>;
  /** The project's parent_id (its domain for a top-level project). */
  parentOf(projectId: string): Promise<string | null>;
  /** Every project below `id`, at any depth. */
  subtreeIds(id: string): Promise<string[]>;
}

export interface EnforcementModel {
  readonly name: string;
  readonly description: string;
  /** The deepest project tree the model allows, the domain not counted; null: no cap. */
  readonly maxProjectTreeDepth: number | null;
  /** Whether check() reads the project tree (parentOf, subtreeIds). */
  readonly hierarchical: boolean;
  /** Throws InvalidLimit when a limit about to be stored would break the model. */
  check(limits: readonly CheckedLimit[], view: HierarchyView): Promise<void>;
}

export const FLAT_MODEL: EnforcementModel = {
  name: 'flat',
  description: 'Limit enforcement and validation does not take project hierarchy into consideration.',
  maxProjectTreeDepth: null,
  hierarchical: false,
  // Not hierarchical: no limit constrains another.
  check: async () => undefined,
};

/** Python's `None` in the message, as Keystone formats a missing region. */
const py = (value: string | null): string => value ?? 'None';

/**
 * The value a domain or project has for `key`: its own limit, and for a domain without one the
 * registered default (strict_two_level._get_specified_limit_value). Null when neither exists.
 */
async function specifiedValue(view: HierarchyView, key: LimitKey, owner: { project_id: string } | { domain_id: string }): Promise<number | null> {
  const own = await view.findLimits(owner, key);
  if (own.length > 0) return own[0]!.resource_limit;
  if (!('domain_id' in owner)) return null;
  const registered = await view.findRegisteredLimits(key);
  return registered.length > 0 ? registered[0]!.default_limit : null;
}

/** One limit against what is stored: a project below its parent, a domain above its children. */
async function checkAgainstStored(view: HierarchyView, limit: CheckedLimit, parentId: string | null): Promise<void> {
  if (parentId) {
    const parentValue = await specifiedValue(view, limit, { domain_id: parentId });
    // Keystone tests the value's truth: a parent at 0 constrains nothing.
    if (parentValue && limit.resource_limit > parentValue) throw new InvalidLimit('Limit is bigger than parent.');
    return;
  }
  for (const child of await view.subtreeIds(limit.domain_id!)) {
    const childValue = await specifiedValue(view, limit, { project_id: child });
    if (childValue && limit.resource_limit < childValue) throw new InvalidLimit('Limit is smaller than child.');
  }
}

export const STRICT_TWO_LEVEL_MODEL: EnforcementModel = {
  name: 'strict_two_level',
  description: 'This model requires project hierarchy never exceeds a depth of two',
  maxProjectTreeDepth: 2,
  hierarchical: true,
  async check(limits, view) {
    for (const limit of limits) {
      try {
        let parentId: string | null = null;
        if (limit.project_id) {
          parentId = await view.parentOf(limit.project_id);
          // A parent limit in the same request is the one that counts: the stored one is not looked at.
          const parentInRequest = limits.find(
            (other) =>
              other.domain_id === parentId && other.service_id === limit.service_id && other.region_id === limit.region_id && other.resource_name === limit.resource_name,
          );
          if (parentInRequest) {
            if (limit.resource_limit > parentInRequest.resource_limit) {
              throw new InvalidLimit(`The value of the limit which project is ${limit.project_id} should not bigger than its parent domain ${String(parentInRequest.domain_id)}.`);
            }
            continue;
          }
        }
        await checkAgainstStored(view, limit, parentId);
      } catch (error) {
        if (!(error instanceof InvalidLimit)) throw error;
        // Whatever the reason, Keystone answers with the one message naming the limit.
        throw new InvalidLimit(
          `The resource limit (${limit.project_id ? 'project_id' : 'domain_id'}: ${py(limit.project_id ?? limit.domain_id)}, ` +
            `resource_name: ${limit.resource_name}, resource_limit: ${limit.resource_limit}, ` +
            `service_id: ${limit.service_id}, region_id: ${py(limit.region_id)}) doesn't satisfy current hierarchy model.`,
        );
      }
    }
  },
};

export function enforcementModel(name: 'flat' | 'strict_two_level'): EnforcementModel {
  return name === 'strict_two_level' ? STRICT_TWO_LEVEL_MODEL : FLAT_MODEL;
}

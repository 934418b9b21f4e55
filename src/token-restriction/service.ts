import { parseCidr } from '../common/cidr.js';
import { Conflict, NotFound, ValidationError } from '../common/errors.js';
import { newId } from '../common/ids.js';
import { DuplicateRestriction, type InlinePolicy, type TokenRestrictionFilter, type TokenRestrictionRecord, type TokenRestrictionStore } from './store.js';

/**
 * Token restrictions (Keystone-NG's /v4/tokens/restrictions): what a restricted token may be
 * at most. A restriction only ever narrows: a token's power is the restriction intersected with
 * what its user holds at each request (src/token/provider.ts), so the checks here are about
 * consistency (references exist, lists parse), not about who gains what.
 */

/** What a create or update may set; absent means "keep" on update and the default on create. */
export interface TokenRestrictionInput {
  readonly id?: string;
  readonly domainId?: string;
  readonly userId?: string | null;
  readonly projectId?: string | null;
  readonly allowRenew?: boolean;
  readonly allowRescope?: boolean;
  readonly roleIds?: readonly string[];
  readonly actions?: readonly string[] | null;
  readonly sourceCidrs?: readonly string[] | null;
  readonly maxLifetime?: number | null;
  readonly inlinePolicy?: InlinePolicy | null;
}

export interface TokenRestrictionServiceDeps {
  readonly store: TokenRestrictionStore;
  readonly getDomain: (id: string) => Promise<{ id: string } | undefined>;
  readonly getProject: (id: string) => Promise<{ id: string; domain_id: string } | undefined>;
  readonly getUser: (id: string) => Promise<{ id: string } | undefined>;
  /** The role's domain (null for a global role), or undefined when there is no such role. */
  readonly getRole: (id: string) => Promise<{ id: string; domain_id: string | null } | undefined>;
  /**
   * Checks an inline policy before it is stored; throws a 400 ValidationError saying what is
   * wrong. Nothing is ever stored that this did not accept.
   */
  readonly validateInlinePolicy: (language: InlinePolicy['language'], source: string) => Promise<void>;
  readonly newId?: () => string;
}

export type TokenRestrictionService = ReturnType<typeof createTokenRestrictionService>;

/**
 * Policy action names with `*` globs: what rules.json and Keystone's defaults name
 * (`identity:get_user`, `keystone_ts:authz_decision`), nothing a glob library would read as
 * syntax (`?`, `[`, `{`, `**`), so matching stays "`*` is any run of characters".
 */
const ACTION_PATTERN = /^[A-Za-z0-9_.:*-]+$/;

/** A new restriction from its input: NG's defaults (no user, no project, neither flag, no roles), no limits of ours. */
export function newRestriction(id: string, domainId: string, input: TokenRestrictionInput): TokenRestrictionRecord {
  return {
    id,
    domainId,
    userId: input.userId ?? null,
    projectId: input.projectId ?? null,
    allowRenew: input.allowRenew ?? false,
    allowRescope: input.allowRescope ?? false,
    roleIds: [...new Set(input.roleIds ?? [])].sort(),
    actions: input.actions ?? null,
    sourceCidrs: input.sourceCidrs ?? null,
    maxLifetime: input.maxLifetime ?? null,
    inlinePolicy: input.inlinePolicy ?? null,
  };
}

/** What an update makes of a restriction: given fields replace, absent ones stay; id and domain never change. */
export function mergeRestriction(current: TokenRestrictionRecord, input: TokenRestrictionInput): TokenRestrictionRecord {
  const pick = <K extends keyof TokenRestrictionRecord>(key: K, value: TokenRestrictionRecord[K] | undefined) => (value === undefined ? current[key] : value);
  return {
    id: current.id,
    domainId: current.domainId,
    userId: pick('userId', input.userId),
    projectId: pick('projectId', input.projectId),
    allowRenew: pick('allowRenew', input.allowRenew),
    allowRescope: pick('allowRescope', input.allowRescope),
    roleIds: input.roleIds === undefined ? current.roleIds : [...new Set(input.roleIds)].sort(),
    actions: pick('actions', input.actions),
    sourceCidrs: pick('sourceCidrs', input.sourceCidrs),
    maxLifetime: pick('maxLifetime', input.maxLifetime),
    inlinePolicy: pick('inlinePolicy', input.inlinePolicy),
  };
}

export function createTokenRestrictionService(deps: TokenRestrictionServiceDeps) {
  const makeId = deps.newId ?? newId;

  async function checked(record: TokenRestrictionRecord, previous: TokenRestrictionRecord | undefined): Promise<TokenRestrictionRecord> {
    if (!(await deps.getDomain(record.domainId))) throw new ValidationError(`Could not find domain: ${record.domainId}.`);
    if (record.projectId !== null) {
      const project = await deps.getProject(record.projectId);
      if (!project) throw new ValidationError(`Could not find project: ${record.projectId}.`);
      // Restricted tokens are checked against the restriction's domain; a project elsewhere
      // could never be used with it.
      if (project.domain_id !== record.domainId) throw new ValidationError(`Project ${record.projectId} is not in domain ${record.domainId}.`);
    }
    if (record.userId !== null && !(await deps.getUser(record.userId))) throw new ValidationError(`Could not find user: ${record.userId}.`);
    for (const roleId of new Set(record.roleIds)) {
      const role = await deps.getRole(roleId);
      if (!role) throw new ValidationError(`Could not find role: ${roleId}.`);
      if (role.domain_id !== null && role.domain_id !== record.domainId) throw new ValidationError(`Role ${roleId} belongs to another domain.`);
    }
    for (const action of record.actions ?? []) {
      if (!ACTION_PATTERN.test(action)) throw new ValidationError(`Invalid action pattern ${JSON.stringify(action)}: use policy action names with * as the only wildcard.`);
    }
    for (const cidr of record.sourceCidrs ?? []) {
      if (!parseCidr(cidr)) throw new ValidationError(`Invalid CIDR ${JSON.stringify(cidr)}.`);
    }
    const policy = record.inlinePolicy;
    // Unchanged text was accepted when it was stored; anything new is checked before it is.
    if (policy && (previous?.inlinePolicy?.language !== policy.language || previous.inlinePolicy.source !== policy.source)) {
      await deps.validateInlinePolicy(policy.language, policy.source);
    }
    return record;
  }

  async function get(id: string): Promise<TokenRestrictionRecord> {
    const found = await deps.store.get(id);
    if (!found) throw NotFound.entity('token restriction', id);
    return found;
  }

  return {
    get,

    /** For token validation: undefined, not a 404, when the restriction is gone. */
    find: (id: string) => deps.store.get(id),

    list: (filter: TokenRestrictionFilter) => deps.store.list(filter),

    /** Checks the input and stores it; 409 when the id is taken. */
    async create(input: TokenRestrictionInput): Promise<TokenRestrictionRecord> {
      if (input.domainId === undefined) throw new ValidationError("'domain_id' is a required property");
      const record = await checked(newRestriction(input.id ?? makeId(), input.domainId, input), undefined);
      try {
        return await deps.store.create(record);
      } catch (error) {
        if (error instanceof DuplicateRestriction) throw new Conflict('token_restriction', `Duplicate ID, ${record.id}`);
        throw error;
      }
    },

    /** Applies the input to the stored restriction (absent fields kept), checks and stores it. */
    async update(id: string, input: TokenRestrictionInput): Promise<TokenRestrictionRecord> {
      const current = await get(id);
      if (input.id !== undefined && input.id !== id) throw new ValidationError('The id of a token restriction cannot change.');
      if (input.domainId !== undefined && input.domainId !== current.domainId) throw new ValidationError('The domain of a token restriction cannot change.');
      const updated = await checked(mergeRestriction(current, input), current);
      if (!(await deps.store.replace(updated))) throw NotFound.entity('token restriction', id);
      return updated;
    },

    async delete(id: string): Promise<void> {
      if (!(await deps.store.delete(id))) throw NotFound.entity('token restriction', id);
    },
  };
}

import { randomUUID } from 'node:crypto';
import { Forbidden, ForbiddenAction, ForbiddenNotSecurity, NotFound, ValidationError } from '../common/errors.js';
import type { RoleRef } from '../assignment/store.js';
import { BadExpiry, parseExpiration } from '../application-credential/service.js';
import type { RevocationService } from '../revoke/service.js';
import type { TrustRecord, TrustStore } from './store.js';

export function trustNotFound(id: string): NotFound {
  return NotFound.entity('trust', id);
}

/** The `trust` member of a create request, after schema validation (schemas/trust-create.json). */
export interface TrustCreateRequest {
  readonly trustor_user_id: string;
  readonly trustee_user_id: string;
  readonly impersonation: boolean;
  readonly project_id?: string | null;
  readonly roles?: readonly ({ id: string } | { name: string })[];
  readonly expires_at?: string | null;
  readonly remaining_uses?: number | null;
  readonly allow_redelegation?: boolean | null;
  readonly redelegation_count?: number | null;
}

export interface TrustServiceDeps {
  readonly store: TrustStore;
  readonly revoke: Pick<RevocationService, 'revoke'>;
  readonly userExists: (id: string) => Promise<boolean>;
  readonly userEnabled: (id: string) => Promise<boolean>;
  readonly projectExists: (id: string) => Promise<boolean>;
  readonly getRole: (id: string) => Promise<RoleRef | undefined>;
  readonly findGlobalRoleByName: (name: string) => Promise<RoleRef | undefined>;
  /** The trustor's effective role ids on the project, domain-specific roles kept (strip_domain_roles=False). */
  readonly trustorRoleIds: (userId: string, projectId: string) => Promise<ReadonlySet<string>>;
  readonly now: () => Date;
  readonly options: { readonly maxRedelegationCount: number };
}

export type TrustService = ReturnType<typeof createTrustService>;

export function createTrustService(deps: TrustServiceDeps) {
  const { store, options } = deps;

  /** The driver's get_trust: soft-deleted, expired and used-up trusts all read as not found. */
  async function findLive(id: string): Promise<TrustRecord | undefined> {
    const trust = await store.get(id);
    if (!trust) return undefined;
    if (trust.expiresAt && deps.now().getTime() > trust.expiresAt.getTime()) return undefined;
    if (trust.remainingUses !== null && trust.remainingUses <= 0) return undefined;
    return trust;
  }

  /** The chain from `trust` to its original trust, each link read as get_trust reads it. */
  async function pedigree(trust: TrustRecord): Promise<TrustRecord[]> {
    const chain = [trust];
    let current = trust;
    while (current.redelegatedTrustId) {
      const parent = await store.get(current.redelegatedTrustId);
      if (!parent) throw trustNotFound(current.redelegatedTrustId);
      chain.push(parent);
      current = parent;
    }
    return chain;
  }

  /** _validate_redelegation: what a child may take from the trust it redelegates. */
  function validateRedelegation(parent: TrustRecord, child: { remainingUses: number | null; expiresAt: Date | null; roleIds: readonly string[]; impersonation: boolean }): void {
    const depth = parent.redelegationCount ?? 0;
    if (!(depth > 0 && depth <= options.maxRedelegationCount)) {
      throw new Forbidden(`Remaining redelegation depth of ${depth} out of allowed range of [0..${options.maxRedelegationCount}]`);
    }
    if (child.remainingUses !== null) throw new Forbidden(`Field "remaining_uses" is set to ${child.remainingUses} while it must not be set in order to redelegate a trust`);
    if (child.expiresAt && parent.expiresAt && parent.expiresAt.getTime() < child.expiresAt.getTime()) {
      throw new Forbidden('Requested expiration time is more than redelegated trust can provide');
    }
    const parentRoles = new Set(parent.roleIds);
    if (!child.roleIds.every((id) => parentRoles.has(id))) throw new Forbidden('Some of requested roles are not in redelegated trust');
    if (!parent.impersonation && child.impersonation) {
      throw new Forbidden(`Impersonation is not allowed because redelegated trust does not specify impersonation. Redelegated trust id: ${parent.id}`);
    }
  }

  /** The manager's get_trust: a redelegated trust is only as good as every link of its chain. */
  async function get(id: string): Promise<TrustRecord & { readonly originalTrustorUserId: string }> {
    const trust = await findLive(id);
    if (!trust) throw trustNotFound(id);
    if (!trust.redelegatedTrustId) return { ...trust, originalTrustorUserId: trust.trustorUserId };
    const chain = await pedigree(trust);
    for (let i = 1; i < chain.length; i++) {
      validateRedelegation(chain[i]!, chain[i - 1]!);
      if (!(await deps.userEnabled(chain[i]!.trusteeUserId))) throw new Forbidden('One of the trust agents is disabled or deleted');
    }
    return { ...trust, originalTrustorUserId: chain.at(-1)!.trustorUserId };
  }

  async function resolveRoles(requested: readonly ({ id: string } | { name: string })[]): Promise<string[]> {
    const ids: string[] = [];
    for (const ref of requested) {
      if ('id' in ref && ref.id) {
        ids.push(ref.id);
        continue;
      }
      const name = (ref as { name: string }).name;
      const role = await deps.findGlobalRoleByName(name);
      if (!role) throw NotFound.entity('role', name);
      ids.push(role.id);
    }
    return ids;
  }

  return {
    get,
    find: findLive,

    /**
     * POST /v3/OS-TRUST/trusts after policy, in Keystone's order: roles when a project is named,
     * caller is the trustor, trustee exists, roles held by the (original) trustor, expiry, then
     * the manager's redelegation rules. `parentTrustId`: the caller's own trust when it
     * authenticated with a trust-scoped token (redelegation).
     */
    async create(request: TrustCreateRequest, caller: { userId: string; parentTrustId: string | null }): Promise<TrustRecord> {
      const requestedRoles = request.roles ?? [];
      if (request.project_id && requestedRoles.length === 0) throw new ForbiddenAction('At least one role should be specified');
      if (caller.userId !== request.trustor_user_id) throw new ForbiddenAction('The authenticated user should match the trustor');
      if (!(await deps.userExists(request.trustee_user_id))) throw NotFound.entity('user', request.trustee_user_id);
      const roleIds = await resolveRoles(requestedRoles);
      const parent = caller.parentTrustId ? await get(caller.parentTrustId) : undefined;

      const projectId = request.project_id ?? null;
      if (projectId) {
        if (!(await deps.projectExists(projectId))) throw NotFound.entity('project', projectId);
        // A redelegated trust delegates what the original trustor holds on the original project.
        const original = parent ? (await pedigree(parent)).at(-1)! : { trustorUserId: request.trustor_user_id, projectId };
        const held = original.projectId ? await deps.trustorRoleIds(original.trustorUserId, original.projectId) : new Set<string>();
        for (const id of roleIds) if (!held.has(id)) throw NotFound.entity('role', id);
      }

      let expiresAt: Date | null = null;
      if (request.expires_at !== undefined && request.expires_at !== null) {
        expiresAt = parseExpiration(request.expires_at);
        if (expiresAt.getTime() < deps.now().getTime()) throw new BadExpiry('past');
      }

      const remainingUses = request.remaining_uses ?? null;
      let requestedCount = request.redelegation_count ?? null;
      const redelegatable = request.allow_redelegation === true && requestedCount !== 0;
      let redelegationCount: number | null;
      if (!redelegatable) {
        redelegationCount = requestedCount = 0;
        if (remainingUses !== null && remainingUses <= 0) throw new ValidationError('remaining_uses must be a positive integer or null.');
      } else {
        if (requestedCount !== null && requestedCount > options.maxRedelegationCount) {
          throw new Forbidden(`Requested redelegation depth of ${requestedCount} is greater than allowed ${options.maxRedelegationCount}`);
        }
        if (remainingUses !== null) throw new ValidationError('remaining_uses must not be set if redelegation is allowed');
        redelegationCount = requestedCount;
      }

      const child = { remainingUses, expiresAt, roleIds, impersonation: request.impersonation };
      if (parent) {
        const remaining = (parent.redelegationCount ?? 0) - 1;
        if (redelegatable && requestedCount && requestedCount !== remaining) {
          throw new Forbidden('Modifying "redelegation_count" upon redelegation is forbidden. Omitting this parameter is advised.');
        }
        redelegationCount ??= remaining;
        // A child without an expiry inherits its parent's (_validate_redelegation).
        if (!child.expiresAt) child.expiresAt = parent.expiresAt;
        for (const link of await pedigree(parent)) validateRedelegation(link, child);
      }

      return store.create({
        id: randomUUID().replace(/-/g, ''),
        trustorUserId: request.trustor_user_id,
        trusteeUserId: request.trustee_user_id,
        projectId,
        impersonation: request.impersonation,
        expiresAt: child.expiresAt,
        remainingUses,
        redelegatedTrustId: parent?.id ?? null,
        redelegationCount: redelegationCount ?? options.maxRedelegationCount,
        roleIds,
      });
    },

    /** Live trusts; the API applies the trustor/trustee filter it was allowed. */
    list: (filter: { trustorUserId?: string; trusteeUserId?: string } = {}) => store.list(filter),

    /**
     * Soft delete, redelegated children first, and a revocation event per trust: tokens issued
     * through it stop validating even from a cache.
     */
    async delete(id: string): Promise<void> {
      const trust = await store.get(id);
      if (!trust) throw trustNotFound(id);
      for (const child of await store.list({ trustorUserId: trust.trustorUserId, redelegatedTrustId: id })) {
        await this.delete(child.id).catch((error: unknown) => {
          if (!(error instanceof NotFound)) throw error;
        });
      }
      await store.softDelete(id, deps.now());
      await deps.revoke.revoke({ trust_id: id });
    },

    /**
     * One use after a token was issued (authenticate_for_token). A trust that ran out between
     * the scope lookup and here is Keystone's TrustUseLimitReached.
     */
    async consumeUse(id: string): Promise<void> {
      const result = await store.consumeUse(id);
      if (result === 'missing') throw trustNotFound(id);
      // TrustUseLimitReached formats its own message, so Keystone shows it (a Forbidden built from a message hides it).
      if (result === 'exhausted') throw new ForbiddenNotSecurity(`No remaining uses for trust: ${id}.`);
    },
  };
}

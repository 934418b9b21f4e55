import { ForbiddenNotSecurity, NotFound, ValidationError } from '../common/errors.js';
import type { IdentityService, User } from './service.js';
import type { ServiceAccountMarker, ServiceAccountStore } from './service-account-store.js';

/**
 * Service accounts (issue 6): non-interactive identities owned by a project or a domain.
 * Each is a user in Keystone's tables (created and changed through the identity service, so
 * every rule and revocation of users applies) plus a marker that says whose it is and that
 * refuses it password, TOTP and passkey login. See docs/decisions/0010-service-accounts.md.
 */

export interface ServiceAccount {
  readonly user: User;
  readonly marker: ServiceAccountMarker;
}

/** What the service needs of projects and domains. */
export interface OwnerLookup {
  getProject(id: string): Promise<{ readonly id: string; readonly domain_id: string; readonly enabled: boolean; readonly is_domain: boolean } | undefined>;
  getDomain(id: string): Promise<{ readonly id: string; readonly enabled: boolean } | undefined>;
}

export interface ServiceAccountDeps {
  readonly store: ServiceAccountStore;
  readonly identity: Pick<IdentityService, 'createUserFromApi' | 'getUser' | 'updateUser' | 'deleteUser'>;
  readonly owners: OwnerLookup;
}

export interface ServiceAccountCreate {
  readonly name: string;
  readonly project_id?: string;
  readonly domain_id?: string;
  readonly description?: string | null;
  readonly enabled?: boolean;
}

export interface ServiceAccountUpdate {
  readonly name?: string;
  readonly description?: string | null;
  readonly enabled?: boolean;
}

export interface ServiceAccountFilters {
  readonly project_id?: string;
  readonly domain_id?: string;
  readonly name?: string;
  readonly enabled?: boolean;
}

export type ServiceAccountService = ReturnType<typeof createServiceAccountService>;

export function createServiceAccountService(deps: ServiceAccountDeps) {
  const { store, identity, owners } = deps;

  const notFound = (id: string) => NotFound.entity('service account', id);

  async function load(id: string): Promise<ServiceAccount> {
    const marker = await store.get(id);
    const user = marker && (await identity.getUser(id));
    if (!marker || !user) throw notFound(id);
    return { user, marker };
  }

  /** Whether the owner (project and its domain, or the domain) is there and enabled. */
  async function ownerEnabled(marker: Pick<ServiceAccountMarker, 'ownerProjectId' | 'ownerDomainId'>): Promise<boolean> {
    const domain = await owners.getDomain(marker.ownerDomainId);
    if (!domain?.enabled) return false;
    if (marker.ownerProjectId === null) return true;
    return (await owners.getProject(marker.ownerProjectId))?.enabled === true;
  }

  /** The owner named by a create request: a project (its domain follows) or a domain alone. */
  async function resolveOwner(body: ServiceAccountCreate): Promise<{ ownerProjectId: string | null; ownerDomainId: string }> {
    if (body.project_id !== undefined) {
      const project = await owners.getProject(body.project_id);
      if (!project || project.is_domain) throw new ValidationError(`Could not find project: ${body.project_id}.`);
      if (body.domain_id !== undefined && body.domain_id !== project.domain_id) {
        throw new ValidationError(`project ${project.id} is not in domain ${body.domain_id}`);
      }
      return { ownerProjectId: project.id, ownerDomainId: project.domain_id };
    }
    if (body.domain_id !== undefined) {
      if (!(await owners.getDomain(body.domain_id))) throw new ValidationError(`Could not find domain: ${body.domain_id}.`);
      return { ownerProjectId: null, ownerDomainId: body.domain_id };
    }
    throw new ValidationError('A service account needs an owner: project_id or domain_id.');
  }

  /** `id` undefined: an account being created. */
  async function refuseEnablingUnderDisabledOwner(id: string | undefined, marker: Pick<ServiceAccountMarker, 'ownerProjectId' | 'ownerDomainId'>): Promise<void> {
    if (await ownerEnabled(marker)) return;
    const owner = marker.ownerProjectId === null ? `domain ${marker.ownerDomainId}` : `project ${marker.ownerProjectId}`;
    const what = id === undefined ? 'create an enabled service account' : `enable service account ${id}`;
    throw new ForbiddenNotSecurity(`Cannot ${what} since its owner, ${owner}, is disabled or gone.`);
  }

  return {
    get: load,

    /** Whether a user is a service account: the auth path refuses interactive methods for it. */
    async isServiceAccount(userId: string): Promise<boolean> {
      return (await store.get(userId)) !== undefined;
    },

    /** The marker alone, for policy targets of the account's credentials (API keys). */
    marker: (userId: string) => store.get(userId),

    /**
     * The owner as a policy target: who may manage the account is decided by policy, on the
     * owner's project and domain. Read before the account itself so that a create under an
     * unknown owner is a 400 whoever asks.
     */
    async ownerOf(body: ServiceAccountCreate): Promise<{ project_id: string | null; domain_id: string }> {
      const owner = await resolveOwner(body);
      return { project_id: owner.ownerProjectId, domain_id: owner.ownerDomainId };
    },

    async create(body: ServiceAccountCreate): Promise<ServiceAccount> {
      const owner = await resolveOwner(body);
      const enabled = body.enabled ?? true;
      if (enabled) await refuseEnablingUnderDisabledOwner(undefined, owner);
      // No password: the account authenticates with application credentials, API keys or
      // workload federation. It never logs in, so inactivity must not disable it.
      const user = await identity.createUserFromApi({
        name: body.name,
        domain_id: owner.ownerDomainId,
        enabled,
        ...(body.description !== undefined ? { description: body.description } : {}),
        options: { ignore_user_inactivity: true },
      });
      try {
        await store.insert({ userId: user.id, ...owner });
      } catch (error) {
        // Without its marker the user would be an ordinary (if passwordless) user: remove it.
        await identity.deleteUser(user.id).catch(() => undefined);
        throw error;
      }
      return load(user.id);
    },

    async list(filters: ServiceAccountFilters): Promise<ServiceAccount[]> {
      const markers = await store.list({
        ...(filters.project_id !== undefined ? { ownerProjectId: filters.project_id } : {}),
        ...(filters.domain_id !== undefined ? { ownerDomainId: filters.domain_id } : {}),
      });
      const accounts: ServiceAccount[] = [];
      for (const marker of markers) {
        const user = await identity.getUser(marker.userId);
        if (!user) continue;
        if (filters.name !== undefined && user.name !== filters.name) continue;
        if (filters.enabled !== undefined && user.enabled !== filters.enabled) continue;
        accounts.push({ user, marker });
      }
      return accounts;
    },

    /**
     * The identity service's check before it enables a user (PATCH /v3/users too): a service
     * account stays disabled while its owner is disabled or gone.
     */
    async assertMayEnable(userId: string): Promise<void> {
      const marker = await store.get(userId);
      if (marker) await refuseEnablingUnderDisabledOwner(userId, marker);
    },

    async update(id: string, body: ServiceAccountUpdate): Promise<ServiceAccount> {
      await load(id);
      // Enabling under a disabled owner is refused by the identity service (assertMayEnable).
      await identity.updateUser(id, { ...body });
      return load(id);
    },

    async delete(id: string): Promise<void> {
      await load(id);
      await identity.deleteUser(id);
    },

    /**
     * The resource service's hook: the accounts of projects and domains that were disabled or
     * deleted are disabled, through the identity service, so their tokens are revoked as a
     * disabled user's are. Returns the ids disabled.
     */
    async disableOwnedBy(owned: { projectIds: readonly string[]; domainIds: readonly string[] }): Promise<string[]> {
      const disabled: string[] = [];
      for (const marker of await store.ownedBy(owned)) {
        const user = await identity.getUser(marker.userId);
        if (!user?.enabled) continue;
        await identity.updateUser(marker.userId, { enabled: false });
        disabled.push(marker.userId);
      }
      return disabled;
    },
  };
}

import { Conflict, ForbiddenNotSecurity, NotFound, PasswordExpired, Unauthorized, ValidationError } from '../common/errors.js';
import { newId } from '../common/ids.js';
import { attrAsBoolean, matchesFilter, MarkerNotFound, paginate, type ListFilter, type Page } from '../common/list-hints.js';
import type { RevocationService } from '../revoke/service.js';
import type { GroupRecord, GroupStore, UserGroup } from './group-store.js';
import { DuplicateGroup } from './group-store.js';
import { hashPassword, verifyPassword, type PasswordHashOptions } from './password-hash.js';
import { DuplicateUser, USER_OPTION_IDS, type FederatedObject, type IdentityStore, type NewPassword, type UserListQuery, type UserOptionName, type UserRecord } from './store.js';

export interface SecurityCompliance {
  readonly lockout_failure_attempts: number | null;
  readonly lockout_duration: number | null;
  readonly password_expires_days: number | null;
  readonly change_password_upon_first_use: boolean;
  readonly disable_user_account_days_inactive: number | null;
  readonly unique_last_password_count?: number;
  readonly minimum_password_age?: number;
  readonly password_regex?: string | null;
  readonly password_regex_description?: string | null;
}

/** What user and group management needs of the resource provider: domains and projects by id. */
export interface IdentityResourceLookup {
  getDomain(id: string): Promise<{ readonly id: string } | undefined>;
  getRecord(id: string): Promise<{ readonly is_domain: boolean } | undefined>;
}

export interface IdentityServiceDeps {
  readonly store: IdentityStore;
  readonly passwordHashing: PasswordHashOptions;
  readonly compliance: SecurityCompliance;
  readonly now: () => Date;
  /** Needed by user and group management only (the auth path reads users alone). */
  readonly groups?: GroupStore;
  readonly revoke?: RevocationService;
  readonly resource?: IdentityResourceLookup;
  /** [identity] list_limit, else [DEFAULT] list_limit; null: no limit. */
  readonly listLimit?: number | null;
  /** Service accounts (src/identity/service-accounts.ts) never get a password. */
  readonly isServiceAccount?: (userId: string) => Promise<boolean>;
  /** Throws when a disabled user may not be enabled (a service account under a disabled owner). */
  readonly assertMayEnable?: (userId: string) => Promise<void>;
}

/** A user as the identity API renders it (show adds the federated objects). */
export interface ManagedUser extends User {
  readonly federated?: readonly { idp_id: string; protocols: { protocol_id: string; unique_id: string }[] }[];
}

/** The filters of a user list, parsed by the router (spec 5.4). */
export interface UserListFilters {
  readonly filters: readonly ListFilter[];
  readonly passwordExpires: UserListQuery['passwordExpires'];
}

/** Keystone's PasswordValidationError family: 400s whose text is shown. */
export class PasswordValidationError extends ValidationError {}

const USER_ATTRIBUTES = ['id', 'name', 'domain_id', 'password', 'enabled', 'default_project_id', 'password_expires_at'];
const GROUP_ATTRIBUTES = ['id', 'name', 'domain_id', 'description'];
/** Columns Keystone's _WontMatch compares filter values with: longer values match nothing. */
const USER_COLUMN_LENGTH: Readonly<Record<string, number>> = { name: 255, domain_id: 64, idp_id: 64, protocol_id: 64, unique_id: 255 };
const GROUP_COLUMN_LENGTH: Readonly<Record<string, number>> = { name: 64, domain_id: 64 };


function likePattern(f: ListFilter): string {
  return f.comparator === 'contains' ? `%${f.value}%` : f.comparator === 'startswith' ? `${f.value}%` : `%${f.value}`;
}

/** Keystone's from_dict: members that are not model attributes go to `extra` (and `extra` itself is dropped). */
function splitExtra(body: Readonly<Record<string, unknown>>, attributes: readonly string[]): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) if (!attributes.includes(key) && key !== 'extra') extra[key] = value;
  return extra;
}

/** The `options` body member as option ids (the request schema allows registered names only). */
function optionIds(options: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) return out;
  for (const [name, value] of Object.entries(options)) {
    const id = USER_OPTION_IDS[name as UserOptionName];
    if (id) out[id] = value;
  }
  return out;
}

function federatedObjectsToList(rows: readonly FederatedObject[]): NonNullable<ManagedUser['federated']> {
  const byIdp = new Map<string, { protocol_id: string; unique_id: string }[]>();
  for (const row of rows) byIdp.set(row.idp_id, [...(byIdp.get(row.idp_id) ?? []), { protocol_id: row.protocol_id, unique_id: row.unique_id }]);
  return [...byIdp].map(([idp_id, protocols]) => ({ idp_id, protocols }));
}

/** A user as the API and tokens see it: inactivity applied to `enabled`, no credentials. */
export interface User extends Omit<UserRecord, 'local'> {
  readonly password_expires_at: Date | null;
}

const DAY_MS = 86_400_000;

function isoDate(date: Date): string {
  return date.toISOString().slice(0, 10);
}

export type IdentityService = ReturnType<typeof createIdentityService>;

export function createIdentityService(deps: IdentityServiceDeps) {
  const { store, compliance } = deps;

  /** disable_user_account_days_inactive: computed on read, exempt with ignore_user_inactivity. */
  function isInactive(record: UserRecord, now: Date): boolean {
    const days = compliance.disable_user_account_days_inactive;
    if (!days || record.options.ignore_user_inactivity === true) return false;
    const lastActive = record.last_active_at ?? (record.created_at ? isoDate(record.created_at) : null);
    if (!lastActive) return false;
    return Date.parse(`${lastActive}T00:00:00Z`) + days * DAY_MS <= Date.parse(`${isoDate(now)}T00:00:00Z`);
  }

  /** Written out member by member: a rest-spread copy per user was a tenth of a 10,000-user list. */
  function toUser(record: UserRecord, now: Date): User {
    return {
      id: record.id,
      name: record.name,
      domain_id: record.domain_id,
      enabled: record.enabled && !isInactive(record, now),
      default_project_id: record.default_project_id,
      created_at: record.created_at,
      last_active_at: record.last_active_at,
      extra: record.extra,
      options: record.options,
      password_expires_at: record.local?.password_expires_at ?? null,
    };
  }

  function passwordExpiry(now: Date, record: { options: UserRecord['options'] } | null, adminSet: boolean): Date | null {
    if (adminSet && compliance.change_password_upon_first_use && record?.options.ignore_change_password_upon_first_use !== true) {
      return now;
    }
    if (compliance.password_expires_days && record?.options.ignore_password_expiry !== true) {
      // Keystone sets microseconds to zero on computed expiry times.
      return new Date(Math.floor((now.getTime() + compliance.password_expires_days * DAY_MS) / 1000) * 1000);
    }
    return null;
  }


  function need<T>(value: T | undefined, what: string): T {
    if (value === undefined) throw new Error(`identity service built without ${what}`);
    return value;
  }

  /**
   * Keystone's validators.validate_password: Python's re.match, so anchored at the start only
   * (the sticky flag), on create, update and self-service change.
   */
  function validatePassword(password: unknown): void {
    const pattern = compliance.password_regex;
    if (!pattern) return;
    if (typeof password !== 'string') throw new PasswordValidationError('Password validation error: Password must be a string type.');
    let regex: RegExp;
    try {
      regex = new RegExp(pattern, 'uy');
    } catch {
      throw new PasswordValidationError('Password validation error: Unable to validate password due to invalid configuration.');
    }
    regex.lastIndex = 0;
    if (!regex.test(password)) {
      throw new PasswordValidationError(`The password does not match the requirements: ${String(compliance.password_regex_description ?? 'None')}.`);
    }
  }

  /**
   * A service account is non-interactive: a password set through the v3 API (by an admin or an
   * upstream Keystone client) would give it an interactive login the marker is there to refuse.
   */
  async function refusePasswordForServiceAccount(id: string): Promise<void> {
    if (deps.isServiceAccount && (await deps.isServiceAccount(id))) {
      throw new ForbiddenNotSecurity(`User ${id} is a service account and cannot have a password; use an application credential or an API key.`);
    }
  }

  async function requireUser(id: string): Promise<UserRecord> {
    const record = await store.getUser(id);
    if (!record) throw NotFound.entity('user', id);
    return record;
  }

  async function requireGroup(id: string): Promise<GroupRecord> {
    const group = await need(deps.groups, 'a group store').getGroup(id);
    if (!group) throw NotFound.entity('group', id);
    return group;
  }

  async function assertDefaultProjectIsNotDomain(projectId: unknown): Promise<void> {
    if (typeof projectId !== 'string' || projectId === '') return;
    // A missing project is accepted (Keystone stays idempotent there); a domain is not.
    const project = await need(deps.resource, 'a resource lookup').getRecord(projectId);
    if (project?.is_domain === true) throw new ValidationError(`User's default project ID cannot be a domain ID: ${projectId}`);
  }

  async function newPassword(password: string | null, now: Date, expiresAt: Date | null, selfService: boolean): Promise<NewPassword> {
    const count = compliance.unique_last_password_count ?? 0;
    return {
      hash: password === null ? null : await hashPassword(password, deps.passwordHashing),
      now,
      expiresAt,
      selfService,
      keep: count === 0 ? 1 : count,
    };
  }

  /**
   * The `federated` member as rows, after Keystone's _validate_federated_objects: every
   * identity provider and protocol named must exist (400 otherwise).
   */
  async function federatedRows(value: unknown): Promise<FederatedObject[]> {
    const rows: FederatedObject[] = [];
    for (const object of (Array.isArray(value) ? value : []) as { idp_id: string; protocols: { protocol_id: string; unique_id: string }[] }[]) {
      if (!(await store.identityProviderExists(object.idp_id))) throw new ValidationError(`Could not find Identity Provider: ${object.idp_id}`);
      for (const protocol of object.protocols) {
        if (!(await store.protocolExists(object.idp_id, protocol.protocol_id))) {
          throw new ValidationError(`Could not find federated protocol ${protocol.protocol_id} for Identity Provider: ${object.idp_id}.`);
        }
        rows.push({ idp_id: object.idp_id, protocol_id: protocol.protocol_id, unique_id: protocol.unique_id });
      }
    }
    return rows;
  }

  async function managed(id: string, withFederated: boolean): Promise<ManagedUser> {
    const user = toUser(await requireUser(id), deps.now());
    if (!withFederated) return user;
    const federated = await store.listFederatedObjects(id);
    return federated.length > 0 ? { ...user, federated: federatedObjectsToList(federated) } : user;
  }

  function limited<T>(records: T[]): { refs: T[]; truncated: boolean } {
    const limit = deps.listLimit ?? null;
    if (limit && limit > 0 && records.length > limit) return { refs: records.slice(0, limit), truncated: true };
    return { refs: records, truncated: false };
  }

  /** Splits user list filters into the SQL query and the in-memory rest; null: nothing can match. */
  function userQuery(list: UserListFilters, base: Partial<UserListQuery>): { query: UserListQuery; rest: ListFilter[] } | null {
    const query: { -readonly [K in keyof UserListQuery]: UserListQuery[K] } = {
      ...base,
      passwordExpires: list.passwordExpires,
      // Listed users need created_at only for the inactivity rule (isInactive).
      skipCreatedAt: !compliance.disable_user_account_days_inactive,
    };
    const nameIlike: string[] = [];
    const rest: ListFilter[] = [];
    for (const f of list.filters) {
      if ((USER_COLUMN_LENGTH[f.name] ?? Infinity) < f.value.length) return null;
      if (f.comparator === 'equals') {
        if (f.name === 'enabled') query.enabled = attrAsBoolean(f.value);
        else if (f.name === 'domain_id') query.domainId = f.value;
        else if (f.name === 'name') query.name = f.value;
        else if (f.name === 'idp_id') query.idpId = f.value;
        else if (f.name === 'protocol_id') query.protocolId = f.value;
        else if (f.name === 'unique_id') query.uniqueId = f.value;
        else rest.push(f);
      } else if (f.name === 'name' && !f.caseSensitive && ['contains', 'startswith', 'endswith'].includes(f.comparator)) {
        nameIlike.push(likePattern(f));
      } else {
        rest.push(f);
      }
    }
    query.nameIlike = nameIlike;
    return { query, rest };
  }

  /**
   * Checks a password in Keystone's order (spec 5.5): lockout, password, enabled, expiry, then
   * success resets the failure counter. Every failure is the generic 401; the reason stays in
   * the log detail only. The caller has already checked the user's domain and enabled flag.
   *
   * `keepAttemptClaimed`: the counter is left raised on success, for the caller to release with
   * {@link releaseAuthAttempts} once the whole authentication succeeded. Token authentication
   * does so, so that a right password cannot wipe out the failures of a second factor tried in
   * the same or an interleaved request (decision 0003).
   */
  async function authenticatePassword(userId: string, password: string, options: { keepAttemptClaimed?: boolean } = {}): Promise<User> {
    const now = deps.now();
    const record = await store.getUser(userId);
    const local = record?.local;
    if (!record || !local) throw new Unauthorized('Invalid user / password');
    const lockoutApplies = await claimAttempt(userId, record, now);
    const ok = local.password_hash !== null && (await verifyPassword(password, local.password_hash, deps.passwordHashing));
    if (!ok) {
      if (!lockoutApplies) await store.recordFailedAuth(local.local_user_id, now);
      throw new Unauthorized('Invalid user / password');
    }
    const user = toUser(record, now);
    if (!user.enabled) throw new Unauthorized(`User ${userId} is disabled`);
    if (local.password_expires_at && record.options.ignore_password_expiry !== true && now >= local.password_expires_at) {
      throw new PasswordExpired(userId);
    }
    if (!options.keepAttemptClaimed && (lockoutApplies || local.failed_auth_count)) await store.resetFailedAuth(local.local_user_id);
    if (compliance.disable_user_account_days_inactive) await store.touchLastActive(userId, isoDate(now));
    return user;
  }

  /**
   * Takes one attempt from the lockout budget when lockout applies to this user (true), or
   * refuses a locked account. Users without local credentials have no counter.
   */
  async function claimAttempt(userId: string, record: UserRecord, now: Date): Promise<boolean> {
    const local = record.local;
    if (!local || !compliance.lockout_failure_attempts || record.options.ignore_lockout_failure_attempts === true) return false;
    const allowed = await store.claimAuthAttempt(local.local_user_id, compliance.lockout_failure_attempts, compliance.lockout_duration ?? 0, now);
    if (!allowed) throw new Unauthorized(`The account is locked for user: ${userId}`);
    return true;
  }

  /**
   * A proof other than the password (the TOTP passcode), under the same lockout budget as
   * passwords: a locked account is refused and a failure counts. Upstream's TOTP plugin ignores
   * lockout, which leaves six-digit codes open to guessing (decision 0003). The counter is not
   * reset here: see {@link releaseAuthAttempts}.
   */
  async function authenticateWithSecondFactor(userId: string, verify: () => Promise<boolean>, failureDetail: string): Promise<void> {
    const now = deps.now();
    const record = await store.getUser(userId);
    if (!record) throw new Unauthorized(failureDetail);
    const lockoutApplies = await claimAttempt(userId, record, now);
    if (await verify()) return;
    if (!lockoutApplies && record.local) await store.recordFailedAuth(record.local.local_user_id, now);
    throw new Unauthorized(failureDetail);
  }

  /** A whole authentication succeeded: the failure counter starts again from zero. */
  async function releaseAuthAttempts(userId: string): Promise<void> {
    await store.resetFailedAuthOfUser(userId);
  }


  const management = {
    /** Keystone's list_users: SQL filters, then the others on the rendered users, then list_limit. */
    async listUsers(list: UserListFilters, scopeDomainId: string | null, page: Page | null = null): Promise<{ refs: User[]; truncated: boolean }> {
      if (page?.marker && !(await store.getUser(page.marker))) throw new MarkerNotFound(page.marker);
      const split = userQuery(list, {});
      if (!split) return { refs: [], truncated: false };
      // A domain-scoped caller's domain is forced into the query unless one was asked for.
      const query = split.query.domainId === undefined && scopeDomainId ? { ...split.query, domainId: scopeDomainId } : split.query;
      const now = deps.now();
      const keep = (u: User) => split.rest.every((f) => matchesFilter(f, u as unknown as Record<string, unknown>));
      if (page) {
        // Paged in SQL (ids sorted, after the marker) when no filter is left for memory.
        if (split.rest.length === 0) {
          const records = await store.listUsers(query, page.size, page.marker);
          return { refs: records.map((r) => toUser(r, now)), truncated: page.limit !== null && records.length >= page.limit };
        }
        return paginate((await store.listUsers(query)).map((r) => toUser(r, now)).filter(keep), page);
      }
      // With no filter left for memory, list_limit + 1 users tell whether the list is cut.
      const limit = deps.listLimit ?? 0;
      const records = await store.listUsers(query, split.rest.length === 0 && limit > 0 ? limit + 1 : undefined);
      return limited(records.map((r) => toUser(r, now)).filter(keep));
    },

    /** GET /v3/users/{id}: 404 when missing, the federated objects when it has any. */
    showUser: (id: string) => managed(id, true),

    /** POST /v3/users (core create_user and the SQL driver's). `body` is the normalized `user` member. */
    async createUserFromApi(body: Record<string, unknown>): Promise<ManagedUser> {
      if ('password' in body) validatePassword(body['password']);
      const name = String(body['name']).trim();
      const domainId = String(body['domain_id']);
      if (!(await need(deps.resource, 'a resource lookup').getDomain(domainId))) throw NotFound.entity('domain', domainId);
      await assertDefaultProjectIsNotDomain(body['default_project_id']);
      const federated = await federatedRows(body['federated']);
      const now = deps.now();
      const id = newId();
      // Keystone's model applies the password before the options of the same request, so
      // neither ignore_password_expiry nor ignore_change_password_upon_first_use given at
      // creation exempts the first password (passwordExpiry with no record).
      const password = 'password' in body ? await newPassword((body['password'] as string | null) ?? null, now, passwordExpiry(now, null, true), false) : null;
      try {
        await store.insertUser({
          id,
          name,
          domain_id: domainId,
          enabled: body['enabled'] === undefined ? true : body['enabled'] === true,
          default_project_id: (body['default_project_id'] as string | null | undefined) ?? null,
          extra: splitExtra(body, [...USER_ATTRIBUTES, 'options', 'federated']),
          options: optionIds(body['options']),
          now,
          password,
          federated,
        });
      } catch (error) {
        if (error instanceof DuplicateUser) throw new Conflict('user', `Duplicate entry found with name ${name} at domain ID ${domainId}`);
        throw error;
      }
      return managed(id, true);
    },

    /**
     * PATCH /v3/users/{id} (core update_user and the SQL driver's). Returns the user and its
     * `extra`, which Keystone's update answers with.
     */
    async updateUser(id: string, body: Record<string, unknown>): Promise<{ user: ManagedUser; extra: Record<string, unknown> }> {
      const current = await requireUser(id);
      const now = deps.now();
      if ('domain_id' in body && body['domain_id'] !== current.domain_id) throw new ValidationError('Cannot change Domain ID');
      if ('password' in body && body['password'] !== null) await refusePasswordForServiceAccount(id);
      if ('password' in body) validatePassword(body['password']);
      const name = typeof body['name'] === 'string' ? body['name'].trim() : undefined;
      if ('id' in body && body['id'] !== id) throw new ValidationError('Cannot change user ID');
      await assertDefaultProjectIsNotDomain(body['default_project_id']);

      // An empty or absent list keeps the user's federated objects; a list replaces them.
      const federated = Array.isArray(body['federated']) && body['federated'].length > 0 ? await federatedRows(body['federated']) : undefined;
      const wasEnabled = toUser(current, now).enabled;
      if (body['enabled'] === true && !current.enabled) await deps.assertMayEnable?.(id);
      // Keystone rewrites every attribute from the merged record, so the enabled setter runs on
      // each update: an enabled result resets the lockout counter (and the inactivity clock).
      const enabled = 'enabled' in body ? body['enabled'] === true : wasEnabled;
      const options = optionIds(body['options']);
      const optionsAfter: Record<string, unknown> = { ...current.options };
      for (const [name, optionId] of Object.entries(USER_OPTION_IDS)) if (optionId in options) optionsAfter[name] = options[optionId];
      const merged = { ...current.extra, ...body };
      const extra = splitExtra(merged, [...USER_ATTRIBUTES, 'options', 'federated']);
      const password =
        'password' in body
          ? await newPassword((body['password'] as string | null) ?? null, now, passwordExpiry(now, { options: optionsAfter }, true), false)
          : null;
      try {
        await store.updateUser(
          id,
          {
            ...(name !== undefined ? { name } : {}),
            enabled,
            ...('default_project_id' in body ? { default_project_id: (body['default_project_id'] as string | null) ?? null } : {}),
            extra,
            options,
            resetFailedAuth: enabled,
            ...(enabled && compliance.disable_user_account_days_inactive ? { lastActiveAt: isoDate(now) } : {}),
          },
          password,
          federated,
        );
      } catch (error) {
        if (error instanceof DuplicateUser) throw new Conflict('user', `Duplicate entry found with name ${name ?? current.name}`);
        throw error;
      }
      // Disabling a user or resetting its password ends its tokens.
      if ((body['enabled'] === false && wasEnabled) || (body['password'] !== undefined && body['password'] !== null)) {
        await need(deps.revoke, 'a revocation service').revoke({ user_id: id });
      }
      return { user: await managed(id, true), extra };
    },

    /** DELETE /v3/users/{id}: the user, what refers to it, and revocation events for its tokens and trusts. */
    async deleteUser(id: string): Promise<void> {
      await requireUser(id);
      const { trustIds } = await store.deleteUser(id, deps.now());
      const revoke = need(deps.revoke, 'a revocation service');
      await revoke.revoke({ user_id: id });
      for (const trustId of trustIds) await revoke.revoke({ trust_id: trustId });
    },

    /**
     * POST /v3/users/{id}/password (core change_password and the SQL driver's): the original
     * password authenticates (an expired one is fine here, so users can leave that state, and a
     * wrong one counts toward lockout), then every [security_compliance] rule of a
     * self-service change.
     */
    async changePassword(id: string, originalPassword: string, password: string): Promise<void> {
      // Before the original password is checked: a refusal must not count toward lockout.
      await refusePasswordForServiceAccount(id);
      try {
        await authenticatePassword(id, originalPassword);
      } catch (error) {
        if (!(error instanceof PasswordExpired)) throw error;
      }
      validatePassword(password);
      const record = await requireUser(id);
      const local = record.local;
      if (!local) throw new Unauthorized(`user ${id} has no local password`);
      if (record.options.lock_password === true) {
        throw new PasswordValidationError(
          'You cannot change your password at this time due to password policy disallowing password changes. Please contact your administrator to reset your password.',
        );
      }
      const now = deps.now();
      const minAgeDays = compliance.minimum_password_age ?? 0;
      if (local.self_service && local.password_created_at) {
        const minAge = local.password_created_at.getTime() + minAgeDays * DAY_MS;
        if (now.getTime() < minAge) {
          const daysLeft = Math.floor((minAge - now.getTime()) / DAY_MS);
          throw new PasswordValidationError(
            `You cannot change your password at this time due to the minimum password age. Once you change your password, it must be used for ${minAgeDays} day(s) before it can be changed. Please try again in ${daysLeft} day(s) or contact your administrator to reset your password.`,
          );
        }
      }
      const unique = compliance.unique_last_password_count ?? 0;
      if (unique > 0) {
        for (const hash of await store.recentPasswordHashes(local.local_user_id, unique)) {
          if (hash !== null && (await verifyPassword(password, hash, deps.passwordHashing))) {
            throw new PasswordValidationError(
              `The new password cannot be identical to a previous password. The total number which includes the new password must be unique is ${unique}.`,
            );
          }
        }
      }
      // A self-service password honours password_expires_days, never change_password_upon_first_use.
      await store.replacePassword(local.local_user_id, await newPassword(password, now, passwordExpiry(now, record, false), true));
      await need(deps.revoke, 'a revocation service').revoke({ user_id: id });
    },

    async listGroups(filters: readonly ListFilter[], scopeDomainId: string | null, page: Page | null = null): Promise<{ refs: GroupRecord[]; truncated: boolean }> {
      if (page?.marker && !(await need(deps.groups, 'a group store').getGroup(page.marker))) throw new MarkerNotFound(page.marker);
      const query: { domainId?: string; name?: string; ilike: { column: 'name' | 'domain_id' | 'description'; pattern: string }[] } = { ilike: [] };
      const rest: ListFilter[] = [];
      for (const f of filters) {
        if ((GROUP_COLUMN_LENGTH[f.name] ?? Infinity) < f.value.length) return { refs: [], truncated: false };
        if (f.comparator === 'equals' && f.name === 'name') query.name = f.value;
        else if (f.comparator === 'equals' && f.name === 'domain_id') query.domainId = f.value;
        else if (!f.caseSensitive && ['contains', 'startswith', 'endswith'].includes(f.comparator)) query.ilike.push({ column: f.name as 'name', pattern: likePattern(f) });
        else rest.push(f);
      }
      let groups = await need(deps.groups, 'a group store').listGroups(query);
      groups = groups.filter((g) => rest.every((f) => matchesFilter(f, g as unknown as Record<string, unknown>)));
      // A domain-scoped caller sees its domain's groups only.
      if (scopeDomainId) groups = groups.filter((g) => g.domain_id === scopeDomainId);
      if (page) return paginate([...groups].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)), page);
      return limited(groups);
    },

    getGroup: requireGroup,

    async createGroup(body: Record<string, unknown>): Promise<GroupRecord> {
      const domainId = String(body['domain_id']);
      if (!(await need(deps.resource, 'a resource lookup').getDomain(domainId))) throw NotFound.entity('domain', domainId);
      const record: GroupRecord = {
        id: newId(),
        name: String(body['name']).trim(),
        domain_id: domainId,
        description: 'description' in body ? ((body['description'] as string | null) ?? null) : '',
        extra: splitExtra(body, GROUP_ATTRIBUTES),
      };
      try {
        await need(deps.groups, 'a group store').insertGroup(record);
      } catch (error) {
        if (error instanceof DuplicateGroup) throw new Conflict('group', `Duplicate entry found with name ${record.name} at domain ID ${domainId}`);
        throw error;
      }
      return record;
    },

    async updateGroup(id: string, body: Record<string, unknown>): Promise<GroupRecord> {
      const current = await requireGroup(id);
      if ('domain_id' in body && body['domain_id'] !== current.domain_id) throw new ValidationError('Cannot change Domain ID');
      const merged = { ...current.extra, ...body };
      const record: GroupRecord = {
        id,
        name: typeof body['name'] === 'string' ? body['name'].trim() : current.name,
        domain_id: current.domain_id,
        description: 'description' in body ? ((body['description'] as string | null) ?? null) : current.description,
        extra: splitExtra(merged, GROUP_ATTRIBUTES),
      };
      try {
        await need(deps.groups, 'a group store').updateGroup(record);
      } catch (error) {
        if (error instanceof DuplicateGroup) throw new Conflict('group', `Duplicate entry found with name ${record.name}`);
        throw error;
      }
      return record;
    },

    /**
     * Keystone revokes the members' tokens only when the group held role assignments: without
     * any, the group gave its members nothing a token could carry.
     */
    async deleteGroup(id: string): Promise<void> {
      await requireGroup(id);
      const { memberIds, hadAssignments } = await need(deps.groups, 'a group store').deleteGroup(id);
      if (hadAssignments) for (const userId of memberIds) await need(deps.revoke, 'a revocation service').revoke({ user_id: userId });
    },

    async listUsersInGroup(groupId: string, list: UserListFilters): Promise<{ refs: User[]; truncated: boolean }> {
      await requireGroup(groupId);
      const split = userQuery(list, { groupId });
      if (!split) return { refs: [], truncated: false };
      const now = deps.now();
      const users = (await store.listUsers(split.query)).map((r) => toUser(r, now)).filter((u) => split.rest.every((f) => matchesFilter(f, u as unknown as Record<string, unknown>)));
      return limited(users);
    },

    async addUserToGroup(groupId: string, userId: string): Promise<void> {
      await requireGroup(groupId);
      await requireUser(userId);
      await need(deps.groups, 'a group store').addMember(groupId, userId);
    },

    async checkUserInGroup(groupId: string, userId: string): Promise<void> {
      await requireGroup(groupId);
      await requireUser(userId);
      if (!(await need(deps.groups, 'a group store').isMember(groupId, userId, deps.now()))) {
        throw new NotFound(`User '${userId}' not found in group '${groupId}'`);
      }
    },

    /** Removing a member ends its tokens: they may carry roles the group gave. */
    async removeUserFromGroup(groupId: string, userId: string): Promise<void> {
      if (!(await need(deps.groups, 'a group store').removeMember(groupId, userId))) {
        await requireGroup(groupId);
        await requireUser(userId);
        throw new NotFound(`User '${userId}' not found in group '${groupId}'`);
      }
      await need(deps.revoke, 'a revocation service').revoke({ user_id: userId });
    },

    async listGroupsForUser(userId: string, filters: readonly ListFilter[]): Promise<{ refs: UserGroup[]; truncated: boolean }> {
      await requireUser(userId);
      const groups = await need(deps.groups, 'a group store').listGroupsForUser(userId, {}, deps.now());
      return limited(groups.filter((g) => filters.every((f) => matchesFilter(f, g as unknown as Record<string, unknown>))));
    },
  };

  return {
    ...management,
    async getUser(id: string): Promise<User | undefined> {
      const record = await store.getUser(id);
      return record && toUser(record, deps.now());
    },

    async findUserByName(name: string, domainId: string): Promise<User | undefined> {
      const record = await store.findUserByName(name, domainId);
      return record && toUser(record, deps.now());
    },

    authenticatePassword,
    authenticateWithSecondFactor,
    releaseAuthAttempts,

    /** Creates a local user; an admin-set password honours change_password_upon_first_use. */
    async createUser(input: { name: string; domain_id: string; password?: string; enabled?: boolean; default_project_id?: string | null }): Promise<User> {
      const now = deps.now();
      const password = input.password === undefined
        ? undefined
        : { hash: await hashPassword(input.password, deps.passwordHashing), now, expiresAt: passwordExpiry(now, null, true) };
      const id = await store.createUser({ ...input, password });
      return (await this.getUser(id))!;
    },

    /** Admin password reset (bootstrap, PATCH user): a new password row, not self-service. */
    async resetPassword(userId: string, password: string): Promise<void> {
      const now = deps.now();
      const record = await store.getUser(userId);
      if (!record?.local) throw new Error(`user ${userId} has no local credentials`);
      await store.replacePassword(record.local.local_user_id, await newPassword(password, now, passwordExpiry(now, record, true), false));
    },

    /** True when `password` matches the user's current password (bootstrap's idempotence). */
    async passwordMatches(userId: string, password: string): Promise<boolean> {
      const record = await store.getUser(userId);
      const hash = record?.local?.password_hash;
      return !!hash && verifyPassword(password, hash, deps.passwordHashing);
    },

    setEnabled: (userId: string, enabled: boolean) => store.setEnabled(userId, enabled),
    listGroupIds: (userId: string) => store.listGroupIds(userId, deps.now()),
  };
}
